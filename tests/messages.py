"""Real protobuf messages as sensors send them, for tests of every tier."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.log_pb2 import LogLevel, SensorLog
from iot.v1.measurement_pb2 import MeasurementBatch
from iot.v1.sensor_pb2 import FirmwareInfo, SensorKind, SensorRegistration


def mutated(message: Message, **changes: object) -> bytes:
    """message with fields changed (None clears one), serialized: an invalid variant of it."""
    for name, value in changes.items():
        if value is None:
            message.ClearField(name)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message.SerializeToString()


def timestamp(us: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(us)
    return stamp


def batch_message(
    serial: str, sequence: int, first_us: int, rate: float, values: Sequence[float]
) -> bytes:
    return MeasurementBatch(
        serial_number=serial,
        sequence=sequence,
        first_sample_time=timestamp(first_us),
        sample_rate_hz=rate,
        samples=list(values),
        sent_at=timestamp(time.time_ns() // 1000),
    ).SerializeToString()


def registration_message(serial: str, frequency: float, version: str, sent_us: int) -> bytes:
    return SensorRegistration(
        serial_number=serial,
        kind=SensorKind.SENSOR_KIND_ACCELEROMETER,
        sample_frequency_hz=frequency,
        firmware=FirmwareInfo(version=version, boot_id="b" + version, self_test="PASSED"),
        sent_at=timestamp(sent_us),
    ).SerializeToString()


def log_message(serial: str, sequence: int, time_us: int, text: str) -> bytes:
    return SensorLog(
        serial_number=serial,
        sequence=sequence,
        time=timestamp(time_us),
        level=LogLevel.LOG_LEVEL_INFO,
        message=text,
    ).SerializeToString()


def synthetic_values(seed: int, count: int) -> list[float]:
    return list(np.random.default_rng(seed).normal(size=count))
