"""The sample clock: exact sample times at any rate, segments, and the backlog cap."""

from __future__ import annotations

import random
from fractions import Fraction
from itertools import pairwise

import pytest
from sensor_simulator.clock import NANOS_PER_SECOND, Run, SampleClock, Segment, exact_rate

S = NANOS_PER_SECOND
START = 1_763_900_000 * S  # a wall-clock start time, in ns since the epoch
HOUR = 3_600 * S


def drain(
    clock: SampleClock, now_ns: int, *, max_samples: int = 5_000, backlog_ns: int = HOUR
) -> tuple[list[Run], int]:
    """Take every due run at now_ns, as one flush does."""
    runs: list[Run] = []
    dropped = 0
    while True:
        take = clock.take(now_ns, max_samples=max_samples, max_backlog_ns=backlog_ns)
        dropped += take.dropped
        if take.run is None:
            return runs, dropped
        runs.append(take.run)


def assert_contiguous(runs: list[Run]) -> None:
    """Each run starts exactly where the previous one ends (to the nanosecond, rounded down)."""
    for previous, run in pairwise(runs):
        expected = previous.first_time_ns + previous.count * S / previous.rate_hz
        assert abs(run.first_time_ns - expected) < 1


def test_exact_rate_is_the_decimal_that_was_written() -> None:
    assert exact_rate(0.1) == Fraction(1, 10)
    assert exact_rate(25_000.0) == 25_000
    assert exact_rate(333.3) == Fraction(3333, 10)
    for hz in (0.1, 1 / 3, 1234.5678, 25_000.0):
        assert float(exact_rate(hz)) == hz
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            exact_rate(bad)


def test_index_of_the_sample_at_t_is_exactly_t_times_rate_after_an_hour_at_25_khz() -> None:
    segment = Segment(START, exact_rate(25_000.0))
    chosen = random.Random(5).sample(range(0, 3_600_000_000, 40), 50)
    for t_us in [0, 40, 1_000_000, 3_599_999_960, 3_600_000_000, *chosen]:
        index = t_us * 25_000 // 1_000_000
        assert segment.time_ns(index) == START + t_us * 1_000
        # count_until(t) counts samples 0..index, so the sample at t has index count - 1.
        assert segment.count_until(START + t_us * 1_000) - 1 == index
    assert segment.time_ns(90_000_000) == START + HOUR


def test_no_drift_at_25_khz_over_an_hour_of_100_ms_flushes() -> None:
    clock = SampleClock(START, 25_000.0)
    runs: list[Run] = []
    for step in range(1, 36_001):
        batch, dropped = drain(clock, START + step * 100_000_000)
        assert dropped == 0
        runs.extend(batch)
    assert sum(run.count for run in runs) == 90_000_001  # samples at 0, 40 µs, ... 3600 s
    assert runs[-1].first_time_ns + (runs[-1].count - 1) * 40_000 == START + HOUR
    assert_contiguous(runs)
    assert all(run.first_time_ns % 40_000 == START % 40_000 for run in runs)


def test_no_drift_below_1_hz() -> None:
    clock = SampleClock(START, 0.1)
    runs: list[Run] = []
    for second in range(1, 3_601):
        runs.extend(drain(clock, START + second * S)[0])
    assert [run.count for run in runs] == [1] * 361
    assert [run.first_time_ns for run in runs] == [START + i * 10 * S for i in range(361)]


def test_rates_without_a_whole_period_in_ns_do_not_accumulate_error() -> None:
    segment = Segment(START, exact_rate(3.0))
    assert [segment.time_ns(i) - START for i in range(4)] == [0, 333_333_333, 666_666_666, S]
    assert segment.time_ns(3 * 86_400) == START + 86_400 * S  # a day later, still exact


@pytest.mark.parametrize("hz", [0.1, 0.7, 1.0, 3.0, 333.3, 1_000.0, 24_999.9, 25_000.0])
def test_count_until_agrees_with_sample_times(hz: float) -> None:
    segment = Segment(START, exact_rate(hz))
    rng = random.Random(int(hz * 10))
    for index in [0, 1, 2, *rng.sample(range(10**9), 20)]:
        at = segment.time_ns(index)
        assert segment.count_until(at) == index + 1
        assert segment.count_until(at - 1) == index
    assert segment.count_until(START - 1) == 0


def test_take_hands_out_at_most_max_samples_from_the_oldest() -> None:
    clock = SampleClock(START, 1_000.0)
    runs, _ = drain(clock, START + S, max_samples=300)
    assert [run.count for run in runs] == [300, 300, 300, 101]
    assert runs[0].first_time_ns == START
    assert_contiguous(runs)
    assert drain(clock, START + S)[0] == []  # nothing is handed out twice


def test_until_limits_a_flush_to_samples_due_when_it_started() -> None:
    clock = SampleClock(START, 1_000.0)
    take = clock.take(START + 2 * S, max_samples=10_000, max_backlog_ns=HOUR, until_ns=START + S)
    assert take.run is not None
    assert take.run.count == 1_001
    later = clock.take(START + 2 * S, max_samples=10_000, max_backlog_ns=HOUR)
    assert later.run is not None
    assert later.run.first_time_ns == START + 1_001 * 1_000_000


def test_backlog_cap_skips_old_samples_and_counts_them_as_dropped() -> None:
    clock = SampleClock(START, 25_000.0)
    runs, dropped = drain(clock, START + 600 * S, backlog_ns=60 * S)
    # Samples at or before 540 s are dropped; the 60 s after it (1.5 M samples) are kept.
    assert dropped == 540 * 25_000 + 1
    assert sum(run.count for run in runs) == 60 * 25_000
    assert runs[0].first_time_ns == START + 540 * S + 40_000
    assert max(run.count for run in runs) == 5_000  # generated a chunk at a time
    assert_contiguous(runs)


def test_backlog_cap_applies_to_the_first_take_only_once() -> None:
    clock = SampleClock(START, 1_000.0)
    first = clock.take(START + 10 * S, max_samples=100, max_backlog_ns=2 * S)
    assert first.dropped == 8_001
    second = clock.take(START + 10 * S, max_samples=100, max_backlog_ns=2 * S)
    assert second.dropped == 0
    assert first.run is not None and second.run is not None
    assert second.run.first_time_ns == first.run.first_time_ns + 100 * 1_000_000


def test_rate_change_starts_a_new_segment_at_the_next_sample_boundary() -> None:
    clock = SampleClock(START, 10.0)
    change_at = START + 250_000_000  # between the samples at 200 ms and 300 ms
    assert clock.change_rate(1_000.0, change_at) == START + 300_000_000
    runs, _ = drain(clock, START + 400_000_000)
    assert [(run.rate_hz, run.count) for run in runs] == [(10.0, 3), (1_000.0, 101)]
    assert runs[1].first_time_ns == START + 300_000_000
    assert_contiguous(runs)


def test_rate_changes_between_flushes_keep_every_due_sample() -> None:
    clock = SampleClock(START, 100.0)
    clock.change_rate(200.0, START + 55_000_000)  # samples 0..5 at 100 Hz, then from 60 ms
    clock.change_rate(50.0, START + 71_000_000)  # 60, 65, 70 ms at 200 Hz, then from 75 ms
    runs, _ = drain(clock, START + 115_000_000)
    assert [(run.rate_hz, run.count) for run in runs] == [(100.0, 6), (200.0, 3), (50.0, 3)]
    assert_contiguous(runs)


def test_stop_hands_out_what_was_due_then_nothing_and_holds_no_state() -> None:
    clock = SampleClock(START, 1_000.0)
    clock.stop(START + 10_500_000)
    assert not clock.running
    runs, _ = drain(clock, START + S)
    assert [run.count for run in runs] == [11]  # 0..10 ms
    assert drain(clock, START + HOUR * 24) == ([], 0)
    assert clock.segments == ()
    assert clock.due_time_ns(1) is None


def test_start_opens_a_segment_at_the_given_time() -> None:
    clock = SampleClock(START, 1_000.0)
    clock.stop(START)
    clock.start(START + 5 * S, 250.0)
    runs, _ = drain(clock, START + 6 * S)
    assert runs[0].first_time_ns == START  # the sample taken before stopping
    assert runs[1].first_time_ns == START + 5 * S
    assert (runs[1].rate_hz, runs[1].count) == (250.0, 251)
    with pytest.raises(RuntimeError):
        clock.start(START + 7 * S, 10.0)


def test_stopped_clock_refuses_rate_changes_and_stops() -> None:
    clock = SampleClock(START, 1.0)
    clock.stop(START)
    with pytest.raises(RuntimeError):
        clock.change_rate(2.0, START + S)
    with pytest.raises(RuntimeError):
        clock.stop(START + S)


def test_due_time_counts_pending_samples_across_segments() -> None:
    clock = SampleClock(START, 1_000.0)
    clock.change_rate(500.0, START + 9_500_000)  # 10 samples at 1 kHz pending, then 2 ms apart
    assert clock.due_time_ns(1) == START
    assert clock.due_time_ns(10) == START + 9_000_000
    assert clock.due_time_ns(11) == START + 10_000_000
    assert clock.due_time_ns(13) == START + 14_000_000
    with pytest.raises(ValueError):
        clock.due_time_ns(0)
