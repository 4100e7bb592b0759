"""The protobuf messages the simulator builds: exact times, fields, boot lines."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from iot.v1 import log_pb2, measurement_pb2, sensor_pb2
from sensor_simulator import messages
from sensor_simulator.clock import Run

T = 1_763_900_000_123_456_789


def test_timestamps_hold_nanoseconds_exactly() -> None:
    for ns in (0, 1, 999_999_999, 1_000_000_000, T):
        assert messages.timestamp_ns(messages.timestamp(ns)) == ns


def test_boot_lines_start_with_power_on_and_end_with_the_self_test() -> None:
    lines = messages.boot_log_lines("sim-1.2.3")
    assert lines[0] == "System powering on"
    assert lines[-1] == "Self-test result: PASSED"
    assert "Firmware version sim-1.2.3" in lines


def test_log_line() -> None:
    line = messages.log_line("sn-1", 42, T, "System powering on")
    decoded = log_pb2.SensorLog.FromString(line.SerializeToString())
    assert (decoded.serial_number, decoded.sequence) == ("sn-1", 42)
    assert messages.timestamp_ns(decoded.time) == T
    assert decoded.level == log_pb2.LOG_LEVEL_INFO
    assert decoded.message == "System powering on"


def test_registration() -> None:
    registration = messages.registration(
        "sn-1",
        sensor_pb2.SENSOR_KIND_ACCELEROMETER,
        25_000.0,
        firmware_version="sim-1",
        boot_id="ab" * 16,
        booted_at_ns=T,
        sent_at_ns=T + 5,
    )
    decoded = sensor_pb2.SensorRegistration.FromString(registration.SerializeToString())
    assert decoded.kind == sensor_pb2.SENSOR_KIND_ACCELEROMETER
    assert decoded.sample_frequency_hz == 25_000.0
    assert decoded.firmware.version == "sim-1"
    assert decoded.firmware.boot_id == "ab" * 16
    assert decoded.firmware.self_test == "PASSED"
    assert messages.timestamp_ns(decoded.firmware.booted_at) == T
    assert messages.timestamp_ns(decoded.sent_at) == T + 5


def test_measurement_batch_carries_the_run_exactly() -> None:
    run = Run(T, Fraction(1, 10), 3)
    values = np.array([0.5, -1.25, 3.0])
    batch = messages.measurement_batch("sn-1", 7, run, values, T + 1)
    decoded = measurement_pb2.MeasurementBatch.FromString(batch.SerializeToString())
    assert decoded.sequence == 7
    assert messages.timestamp_ns(decoded.first_sample_time) == T
    assert decoded.sample_rate_hz == 0.1
    assert list(decoded.samples) == [0.5, -1.25, 3.0]
    assert messages.timestamp_ns(decoded.sent_at) == T + 1


def test_measurement_batch_refuses_a_sample_count_that_does_not_match_the_run() -> None:
    with pytest.raises(ValueError, match="expected 3 samples"):
        messages.measurement_batch("sn-1", 1, Run(T, Fraction(10), 3), np.zeros(2), T)
