"""Commands change the sensor's state as asked, idempotently, and never crash it."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.command_pb2 import (
    AwakeAction,
    ChangeSampleFrequencyAction,
    CommandStatus,
    SensorCommand,
    SleepAction,
)
from sensor_simulator.commands import (
    InvalidCommandError,
    acknowledgement,
    apply_command,
    decode_command,
)
from sensor_simulator.sensor import Sensor

SERIAL = "cmd-unit"
NOW = 1_795_000_000 * 10**9
APPLIED = CommandStatus.COMMAND_STATUS_APPLIED
REJECTED = CommandStatus.COMMAND_STATUS_REJECTED
EXPIRED = CommandStatus.COMMAND_STATUS_EXPIRED


def _command(**action: object) -> SensorCommand:
    return SensorCommand(command_id="c-1", serial_number=SERIAL, **action)  # type: ignore[arg-type]


def _sensor() -> Sensor:
    return Sensor(SERIAL, 100.0, NOW)


def test_sleep_and_awake_set_states_and_repeat_harmlessly() -> None:
    sensor = _sensor()
    assert apply_command(sensor, _command(sleep=SleepAction()), NOW + 1).status == APPLIED
    assert sensor.asleep
    # A redelivered sleep changes nothing and is acknowledged the same way.
    assert apply_command(sensor, _command(sleep=SleepAction()), NOW + 2).status == APPLIED
    assert sensor.asleep
    assert apply_command(sensor, _command(awake=AwakeAction()), NOW + 3).status == APPLIED
    assert not sensor.asleep


def test_a_frequency_change_while_asleep_applies_on_wake() -> None:
    sensor = _sensor()
    apply_command(sensor, _command(sleep=SleepAction()), NOW + 1)
    change = _command(change_sample_frequency=ChangeSampleFrequencyAction(sample_frequency_hz=5))
    assert apply_command(sensor, change, NOW + 2).status == APPLIED
    assert (sensor.asleep, sensor.sample_frequency_hz) == (True, 5.0)
    apply_command(sensor, _command(awake=AwakeAction()), NOW + 3)
    assert sensor.clock.segments[-1].rate == 5


@pytest.mark.parametrize("hz", [0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_an_invalid_frequency_is_rejected_and_changes_nothing(hz: float) -> None:
    sensor = _sensor()
    change = _command(change_sample_frequency=ChangeSampleFrequencyAction(sample_frequency_hz=hz))
    outcome = apply_command(sensor, change, NOW + 1)
    assert outcome.status == REJECTED
    assert "sample frequency" in outcome.reason
    assert sensor.sample_frequency_hz == 100.0


def test_an_expired_command_is_not_applied() -> None:
    sensor = _sensor()
    command = _command(sleep=SleepAction())
    command.expires_at.CopyFrom(Timestamp(seconds=NOW // 10**9 - 1))
    outcome = apply_command(sensor, command, NOW)
    assert (outcome.status, sensor.asleep) == (EXPIRED, False)


def test_a_command_without_an_action_is_rejected() -> None:
    assert apply_command(_sensor(), _command(), NOW).status == REJECTED


def test_the_acknowledgement_reports_the_state() -> None:
    sensor = _sensor()
    outcome = apply_command(sensor, _command(sleep=SleepAction()), NOW + 1)
    ack = acknowledgement(sensor, "c-1", outcome, NOW + 2)
    assert (ack.command_id, ack.serial_number, ack.status) == ("c-1", SERIAL, APPLIED)
    assert (ack.reported.asleep, ack.reported.sample_frequency_hz) == (True, 100.0)
    assert ack.acked_at.ToNanoseconds() == NOW + 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xff\xff", "undecodable"),
        (SensorCommand(serial_number=SERIAL).SerializeToString(), "without command_id"),
        (
            SensorCommand(command_id="c", serial_number="other-1").SerializeToString(),
            "not 'cmd-unit'",
        ),
    ],
)
def test_unusable_messages_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidCommandError, match=reason):
        decode_command(body, SERIAL)
