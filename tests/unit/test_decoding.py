"""Validation at the edge: every invalid message is refused with a reason, valid ones pass."""

from __future__ import annotations

import pytest
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_messaging import InvalidMessageError
from logs_ingester.decode import decode_log
from logs_ingester.logfmt import format_line
from measurements_ingester.decode import decode_batch
from sensor_registry.decode import decode_registration

from tests.messages import (
    batch_message,
    log_message,
    mutated,
    registration_message,
    timestamp,
)

NOW_US = 1_795_000_000_000_000
KEY = "sensor.pump-1.measurements"


def _decode(body: bytes, key: str = KEY) -> object:
    return decode_batch(body, key, max_rate_hz=100_000, max_samples=10_000)


def _mutated(**changes: object) -> bytes:
    return mutated(
        MeasurementBatch.FromString(batch_message("pump-1", 5, NOW_US, 100.0, [1.0, 2.0])),
        **changes,
    )


def test_a_valid_batch_decodes() -> None:
    batch = decode_batch(batch_message("pump-1", 5, NOW_US, 100.0, [1.0, 2.0]), KEY, 1e5, 10_000)
    assert (batch.serial, batch.sequence, batch.first_time_us) == ("pump-1", 5, NOW_US)
    assert list(batch.values) == [1.0, 2.0]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"\xff\xff\xff", KEY, "undecodable"),
        (_mutated(serial_number="pump.1"), KEY, "invalid serial"),
        (_mutated(serial_number="pump-2"), KEY, "serial mismatch"),
        (_mutated(sequence=0), KEY, "invalid sequence"),
        (_mutated(sample_rate_hz=0.0), KEY, "invalid sample rate"),
        (_mutated(sample_rate_hz=float("nan")), KEY, "invalid sample rate"),
        (_mutated(sample_rate_hz=1e9), KEY, "invalid sample rate"),
        (_mutated(samples=None), KEY, "invalid sample count"),
        (_mutated(first_sample_time=None), KEY, "invalid time"),
    ],
)
def test_invalid_batches_are_refused_with_a_reason(body: bytes, key: str, reason: str) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        _decode(body, key)


def test_a_batch_far_in_the_future_is_refused() -> None:
    message = MeasurementBatch.FromString(batch_message("pump-1", 1, NOW_US, 1.0, [1.0]))
    message.first_sample_time.CopyFrom(timestamp(10**17))
    with pytest.raises(InvalidMessageError, match="invalid time"):
        _decode(message.SerializeToString())


def test_registration_decodes_kind_and_firmware() -> None:
    reg = decode_registration(
        registration_message("pump-1", 25.0, "v7", NOW_US), "sensor.pump-1.registry", 1e6
    )
    assert (reg.kind, reg.firmware_version, reg.sample_frequency_hz) == (
        "accelerometer",
        "v7",
        25.0,
    )
    with pytest.raises(InvalidMessageError, match="invalid sample frequency"):
        decode_registration(
            registration_message("pump-1", 0.0, "v7", NOW_US), "sensor.pump-1.registry", 1e6
        )


def test_long_log_messages_are_cut_and_logfmt_is_quoted() -> None:
    entry = decode_log(log_message("pump-1", 1, NOW_US, "x" * 100), "sensor.pump-1.logs", 40)
    assert len(entry.message) == 40 and entry.message.endswith("[truncated]")
    entry = decode_log(log_message("pump-1", 1, NOW_US, 'say "hi"\nbye'), "sensor.pump-1.logs", 100)
    line = format_line(entry)
    assert line.startswith("time=2026-")
    assert line.endswith(' logger=pump-1 level=info message="say \\"hi\\"\\nbye"\n')
