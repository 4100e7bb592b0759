"""Build the protobuf messages a sensor sends: log lines, its registration, measurement batches.

Times are integer nanoseconds since the epoch, which protobuf Timestamps hold exactly.
"""

from __future__ import annotations

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1 import log_pb2, measurement_pb2, sensor_pb2
from numpy.typing import NDArray

from sensor_simulator.clock import NANOS_PER_SECOND, Run

SELF_TEST_PASSED = "PASSED"
POWERING_ON = "System powering on"


def timestamp(time_ns: int) -> Timestamp:
    """A Timestamp for nanoseconds since the epoch, without a float in between."""
    seconds, nanos = divmod(time_ns, NANOS_PER_SECOND)
    return Timestamp(seconds=seconds, nanos=nanos)


def timestamp_ns(value: Timestamp) -> int:
    """Nanoseconds since the epoch of a Timestamp."""
    return value.seconds * NANOS_PER_SECOND + value.nanos


def boot_log_lines(firmware_version: str) -> tuple[str, ...]:
    """What the sensor logs while booting, in order (the first two as in the Go original)."""
    return (
        POWERING_ON,
        f"Firmware version {firmware_version}",
        f"Self-test result: {SELF_TEST_PASSED}",
    )


def log_line(
    serial: str,
    sequence: int,
    time_ns: int,
    message: str,
    level: log_pb2.LogLevel = log_pb2.LOG_LEVEL_INFO,
) -> log_pb2.SensorLog:
    return log_pb2.SensorLog(
        serial_number=serial,
        sequence=sequence,
        time=timestamp(time_ns),
        level=level,
        message=message,
    )


def registration(
    serial: str,
    kind: sensor_pb2.SensorKind,
    sample_frequency_hz: float,
    *,
    firmware_version: str,
    boot_id: str,
    booted_at_ns: int,
    sent_at_ns: int,
) -> sensor_pb2.SensorRegistration:
    return sensor_pb2.SensorRegistration(
        serial_number=serial,
        kind=kind,
        sample_frequency_hz=sample_frequency_hz,
        firmware=sensor_pb2.FirmwareInfo(
            version=firmware_version,
            boot_id=boot_id,
            booted_at=timestamp(booted_at_ns),
            self_test=SELF_TEST_PASSED,
        ),
        sent_at=timestamp(sent_at_ns),
    )


def measurement_batch(
    serial: str,
    sequence: int,
    run: Run,
    samples: NDArray[np.float64],
    sent_at_ns: int,
) -> measurement_pb2.MeasurementBatch:
    if samples.shape != (run.count,):
        raise ValueError(f"expected {run.count} samples, got shape {samples.shape}")
    return measurement_pb2.MeasurementBatch(
        serial_number=serial,
        sequence=sequence,
        first_sample_time=timestamp(run.first_time_ns),
        sample_rate_hz=run.rate_hz,
        samples=samples.tolist(),
        sent_at=timestamp(sent_at_ns),
    )
