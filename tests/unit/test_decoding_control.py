"""Validation of command acknowledgements and heartbeats at the registry's edge."""

from __future__ import annotations

import uuid

import pytest
from iot.v1.command_pb2 import CommandAck, CommandStatus
from iot.v1.heartbeat_pb2 import SensorHeartbeat
from iot_messaging import InvalidMessageError
from sensor_registry.ack_decode import decode_ack
from sensor_registry.heartbeat_decode import decode_heartbeat

from tests.control_messages import APPLIED, DELIVERED, EXPIRED, REJECTED, ack, heartbeat
from tests.messages import mutated, timestamp

NOW_US = 1_795_000_000_000_000
SERIAL = "pump-1"
ACK_KEY = "sensor.pump-1.command_acks"
HEARTBEAT_KEY = "sensor.pump-1.heartbeat"
COMMAND_ID = "0b9d2d9a-8a4e-4b55-9a6c-3f1b1c7d2e10"
MAX_HZ = 1e6


def _ack(**changes: object) -> bytes:
    return mutated(ack(SERIAL, COMMAND_ID, APPLIED, NOW_US, frequency=50.0), **changes)


def _heartbeat(**changes: object) -> bytes:
    return mutated(heartbeat(SERIAL, NOW_US, interval=5.0, asleep=True), **changes)


def _reported(asleep: bool, hz: float) -> CommandAck:
    return ack(SERIAL, COMMAND_ID, APPLIED, NOW_US, asleep=asleep, frequency=hz)


@pytest.mark.parametrize(
    ("status", "name"),
    [(DELIVERED, "delivered"), (APPLIED, "applied"), (REJECTED, "rejected"), (EXPIRED, "expired")],
)
def test_a_valid_ack_decodes_with_its_status(status: CommandStatus, name: str) -> None:
    decoded = decode_ack(_ack(status=status), ACK_KEY, MAX_HZ)
    assert decoded.command_id == uuid.UUID(COMMAND_ID)
    assert (decoded.serial, decoded.status, decoded.reason) == (SERIAL, name, None)
    assert decoded.is_outcome == (name != "delivered")
    assert (decoded.report.asleep, decoded.report.sample_frequency_hz) == (False, 50.0)
    assert decoded.report.at_us == NOW_US


def test_an_ack_keeps_its_reason_and_reads_any_uuid_spelling() -> None:
    body = _ack(status=REJECTED, reason="too fast", command_id=uuid.UUID(COMMAND_ID).hex)
    decoded = decode_ack(body, ACK_KEY, MAX_HZ)
    assert (decoded.command_id, decoded.reason) == (uuid.UUID(COMMAND_ID), "too fast")


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"\xff\xff\xff", ACK_KEY, "undecodable"),
        (_ack(serial_number="pump.1"), ACK_KEY, "invalid serial"),
        (_ack(serial_number="pump-2"), ACK_KEY, "serial mismatch"),
        (_ack(), "sensor.pump-2.command_acks", "serial mismatch"),
        (_ack(command_id=""), ACK_KEY, "invalid command id"),
        (_ack(command_id="c-1"), ACK_KEY, "invalid command id"),
        (_ack(status=CommandStatus.COMMAND_STATUS_UNSPECIFIED), ACK_KEY, "invalid status"),
        (_ack(status=99), ACK_KEY, "invalid status"),
        (_ack(acked_at=None), ACK_KEY, "invalid time: acked_at missing"),
        (_ack(acked_at=timestamp(10**17)), ACK_KEY, "invalid time"),
        (_ack(reported=None), ACK_KEY, "invalid reported state"),
        (_ack(reported=_reported(False, 0.0).reported), ACK_KEY, "invalid sample frequency"),
        (_ack(reported=_reported(True, -1.0).reported), ACK_KEY, "invalid sample frequency"),
        (_ack(reported=_reported(False, float("nan")).reported), ACK_KEY, "sample frequency"),
        (_ack(reported=_reported(False, float("inf")).reported), ACK_KEY, "sample frequency"),
        (_ack(reported=_reported(False, 2e6).reported), ACK_KEY, "invalid sample frequency"),
    ],
)
def test_invalid_acks_are_refused_with_a_reason(body: bytes, key: str, reason: str) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        decode_ack(body, key, MAX_HZ)


def test_a_valid_heartbeat_decodes() -> None:
    decoded = decode_heartbeat(_heartbeat(), HEARTBEAT_KEY, MAX_HZ)
    assert (decoded.serial, decoded.interval_seconds) == (SERIAL, 5.0)
    assert (decoded.report.asleep, decoded.report.sample_frequency_hz) == (True, 100.0)
    assert decoded.report.at_us == NOW_US


def _heartbeat_reported(hz: float) -> SensorHeartbeat:
    return heartbeat(SERIAL, NOW_US, frequency=hz)


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"\xff\xff\xff", HEARTBEAT_KEY, "undecodable"),
        (_heartbeat(serial_number="pump.1"), HEARTBEAT_KEY, "invalid serial"),
        (_heartbeat(serial_number="pump-2"), HEARTBEAT_KEY, "serial mismatch"),
        (_heartbeat(), "sensor.pump-2.heartbeat", "serial mismatch"),
        (_heartbeat(sent_at=None), HEARTBEAT_KEY, "invalid time: sent_at missing"),
        (_heartbeat(sent_at=timestamp(10**17)), HEARTBEAT_KEY, "invalid time"),
        (_heartbeat(interval_seconds=0.0), HEARTBEAT_KEY, "invalid interval"),
        (_heartbeat(interval_seconds=-5.0), HEARTBEAT_KEY, "invalid interval"),
        (_heartbeat(interval_seconds=float("nan")), HEARTBEAT_KEY, "invalid interval"),
        (_heartbeat(interval_seconds=float("inf")), HEARTBEAT_KEY, "invalid interval"),
        (_heartbeat(reported=None), HEARTBEAT_KEY, "invalid reported state"),
        (_heartbeat(reported=_heartbeat_reported(0.0).reported), HEARTBEAT_KEY, "frequency"),
        (_heartbeat(reported=_heartbeat_reported(float("inf")).reported), HEARTBEAT_KEY, "freq"),
    ],
)
def test_invalid_heartbeats_are_refused_with_a_reason(body: bytes, key: str, reason: str) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        decode_heartbeat(body, key, MAX_HZ)
