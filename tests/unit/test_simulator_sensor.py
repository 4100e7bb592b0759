"""Sensor state: sleep, awake and sample-frequency changes, with explicit times."""

from __future__ import annotations

import math

import pytest
from iot.v1 import sensor_pb2
from iot_routing import InvalidSerialError
from sensor_simulator.clock import NANOS_PER_SECOND, Run
from sensor_simulator.sensor import (
    InvalidSampleFrequencyError,
    Sensor,
    validate_sample_frequency,
)

S = NANOS_PER_SECOND
START = 1_763_900_000 * S
HOUR = 3_600 * S


def drain(sensor: Sensor, now_ns: int) -> list[Run]:
    runs = []
    while (take := sensor.clock.take(now_ns, max_samples=5_000, max_backlog_ns=HOUR)).run:
        runs.append(take.run)
    return runs


def samples(runs: list[Run]) -> int:
    return sum(run.count for run in runs)


def test_new_sensor_is_an_awake_accelerometer() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    assert (sensor.serial, sensor.kind) == ("sn-1", sensor_pb2.SENSOR_KIND_ACCELEROMETER)
    assert sensor.sample_frequency_hz == 10.0
    assert not sensor.asleep
    assert samples(drain(sensor, START + S)) == 11


@pytest.mark.parametrize("hz", [0.1, 0.5, 1, 1_000.0, 25_000])
def test_valid_frequencies_including_below_1_hz(hz: float) -> None:
    assert validate_sample_frequency(hz) == float(hz)
    sensor = Sensor("sn-1", hz, START)
    assert samples(drain(sensor, START + 20 * S)) == math.floor(20 * hz) + 1


@pytest.mark.parametrize("hz", [0, 0.0, -1.0, 25_000.01, 1e9, math.nan, math.inf, -math.inf])
def test_invalid_frequencies_are_rejected_with_a_value_error(hz: float) -> None:
    with pytest.raises(InvalidSampleFrequencyError, match="sample frequency"):
        validate_sample_frequency(hz)
    assert issubclass(InvalidSampleFrequencyError, ValueError)


@pytest.mark.parametrize("hz", [True, "10", None])
def test_non_numbers_are_rejected(hz: object) -> None:
    with pytest.raises(InvalidSampleFrequencyError):
        validate_sample_frequency(hz)  # type: ignore[arg-type]


def test_configured_maximum_is_respected() -> None:
    sensor = Sensor("sn-1", 10.0, START, max_sample_frequency_hz=100.0)
    with pytest.raises(InvalidSampleFrequencyError, match="<= 100 Hz"):
        sensor.change_sample_frequency(101.0, START)
    with pytest.raises(InvalidSampleFrequencyError):
        Sensor("sn-1", 101.0, START, max_sample_frequency_hz=100.0)


def test_invalid_serial_is_refused() -> None:
    with pytest.raises(InvalidSerialError):
        Sensor("sensor.1", 10.0, START)


def test_rejected_change_leaves_the_sensor_unchanged() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    with pytest.raises(InvalidSampleFrequencyError):
        sensor.change_sample_frequency(0.0, START + S)
    assert sensor.sample_frequency_hz == 10.0
    assert [run.rate_hz for run in drain(sensor, START + 2 * S)] == [10.0]


def test_change_applies_from_the_next_sample_boundary() -> None:
    sensor = Sensor("sn-1", 1.0, START)
    assert sensor.change_sample_frequency(100.0, START + 2_500_000_000)
    assert sensor.sample_frequency_hz == 100.0
    runs = drain(sensor, START + 4 * S)
    assert [(run.rate_hz, run.count) for run in runs] == [(1.0, 3), (100.0, 101)]
    assert runs[1].first_time_ns == START + 3 * S


def test_change_to_the_same_frequency_is_a_no_op() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    assert not sensor.change_sample_frequency(10, START + S)
    assert len(sensor.clock.segments) == 1


def test_asleep_nothing_is_sampled_or_kept_however_long_it_sleeps() -> None:
    sensor = Sensor("sn-1", 25_000.0, START)
    assert sensor.sleep(START + S)
    assert sensor.asleep
    # What was sampled before sleeping is still handed out, then nothing at all.
    assert samples(drain(sensor, START + S)) == 25_001
    assert drain(sensor, START + 24 * HOUR) == []
    assert sensor.clock.segments == ()
    assert sensor.clock.due_time_ns(1) is None


def test_sleeping_twice_and_waking_twice_are_harmless() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    assert not sensor.awake(START)
    assert sensor.sleep(START)
    assert not sensor.sleep(START + S)
    assert sensor.awake(START + 2 * S)
    assert not sensor.awake(START + 3 * S)


def test_awake_resumes_with_a_new_segment_starting_at_the_wake_time() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    sensor.sleep(START + 50_000_000)
    drain(sensor, START + S)
    wake = START + 7 * S + 123_456_789
    assert sensor.awake(wake)
    runs = drain(sensor, wake + S)
    assert runs[0].first_time_ns == wake
    assert samples(runs) == 11


def test_change_while_asleep_is_applied_on_wake() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    sensor.sleep(START)
    assert sensor.change_sample_frequency(500.0, START + S)
    assert sensor.sample_frequency_hz == 500.0
    assert not sensor.clock.running  # still asleep: nothing sampled at the new rate either
    drain(sensor, START + 2 * S)
    assert drain(sensor, START + 3 * S) == []
    sensor.awake(START + 4 * S)
    runs = drain(sensor, START + 5 * S)
    assert [(run.first_time_ns, run.rate_hz, run.count) for run in runs] == [
        (START + 4 * S, 500.0, 501)
    ]


def test_invalid_change_while_asleep_is_rejected_too() -> None:
    sensor = Sensor("sn-1", 10.0, START)
    sensor.sleep(START)
    with pytest.raises(InvalidSampleFrequencyError):
        sensor.change_sample_frequency(-5.0, START)
    sensor.awake(START + S)
    assert [run.rate_hz for run in drain(sensor, START + 2 * S)] == [10.0, 10.0]
