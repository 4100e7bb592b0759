"""Batching: flushed by time or by size, chunked, never empty; driven with explicit times."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from sensor_simulator.batching import BatchPolicy
from sensor_simulator.clock import NANOS_PER_SECOND, Run, SampleClock

S = NANOS_PER_SECOND
START = 1_763_900_000 * S


@dataclass
class Flush:
    at_ns: int
    runs: list[Run]
    dropped: int


def simulate(
    clock: SampleClock, policy: BatchPolicy, until_ns: int, *, publish_delay_ns: int = 0
) -> list[Flush]:
    """Run the simulator's loop with a virtual clock: plan, 'wait', flush, repeat.

    publish_delay_ns models how long each publish takes (time moves on while flushing).
    """
    flushes: list[Flush] = []
    last = START
    while True:
        at = policy.next_flush_ns(clock, last)
        if at is None or at > until_ns:
            return flushes
        flush = Flush(at, [], 0)
        now = at
        while True:
            take = policy.take(clock, now, at)
            flush.dropped += take.dropped
            if take.run is None:
                break
            flush.runs.append(take.run)
            now += publish_delay_ns
        flushes.append(flush)
        last = at


def policy(
    interval_s: float = 0.1, max_samples: int = 5_000, backlog_s: float = 60.0
) -> BatchPolicy:
    return BatchPolicy.from_seconds(interval_s, max_samples, backlog_s)


def test_a_1_hz_sensor_sends_one_sample_about_every_second_and_no_empty_batches() -> None:
    flushes = simulate(SampleClock(START, 1.0), policy(), START + 10 * S)
    assert all(flush.runs for flush in flushes)
    assert [sum(run.count for run in flush.runs) for flush in flushes] == [1] * 11
    # The first waits for the interval, then each goes out when its sample is taken.
    assert [flush.at_ns - START for flush in flushes] == [S // 10] + [i * S for i in range(1, 11)]


def test_a_25_khz_sensor_sends_2500_samples_every_100_ms() -> None:
    flushes = simulate(SampleClock(START, 25_000.0), policy(), START + 10 * S)
    assert len(flushes) == 100
    assert [flush.at_ns - START for flush in flushes] == [i * S // 10 for i in range(1, 101)]
    sizes = [run.count for flush in flushes for run in flush.runs]
    assert sizes == [2_501] + [2_500] * 99  # the first also has the sample at t=0


def test_flushed_by_size_when_max_samples_are_due_before_the_interval() -> None:
    flushes = simulate(SampleClock(START, 25_000.0), policy(max_samples=1_000), START + S)
    sizes = [run.count for flush in flushes for run in flush.runs]
    assert set(sizes) == {1_000}
    # 1,000 samples every 40 ms instead of 2,500 every 100 ms.
    gaps = {b.at_ns - a.at_ns for a, b in pairwise(flushes)}
    assert gaps == {40_000_000}


def late_flush(clock: SampleClock, p: BatchPolicy, at_ns: int) -> Flush:
    """One flush that runs only at at_ns, because the publishes before it were blocked."""
    flush = Flush(at_ns, [], 0)
    while (take := p.take(clock, at_ns, at_ns)).run or take.dropped:
        flush.dropped += take.dropped
        if take.run is not None:
            flush.runs.append(take.run)
    return flush


def test_one_flush_splits_a_large_backlog_into_chunks_of_max_samples() -> None:
    # Two seconds without a flush (a slow broker) at 25 kHz: 50,001 samples in 11 chunks.
    flush = late_flush(SampleClock(START, 25_000.0), policy(), START + 2 * S)
    assert [run.count for run in flush.runs] == [5_000] * 10 + [1]
    for previous, run in pairwise(flush.runs):
        assert run.first_time_ns == previous.first_time_ns + 5_000 * 40_000


def test_a_flush_ends_even_while_new_samples_keep_falling_due() -> None:
    # Each publish takes 50 ms at 25 kHz: samples falling due meanwhile wait for the next flush.
    flushes = simulate(
        SampleClock(START, 25_000.0), policy(max_samples=500), START + S, publish_delay_ns=S // 20
    )
    for flush in flushes:
        last = flush.runs[-1]
        assert last.first_time_ns + (last.count - 1) * 40_000 <= flush.at_ns


def test_backlog_cap_bounds_what_is_sent_after_an_outage() -> None:
    # The broker was down for 100 s at 1 kHz with a 5 s cap: only the last 5 s are sent.
    flush = late_flush(SampleClock(START, 1_000.0), policy(backlog_s=5.0), START + 100 * S)
    assert flush.dropped == 95_001
    assert sum(run.count for run in flush.runs) == 5_000
    assert flush.runs[0].first_time_ns == START + 95 * S + 1_000_000


def test_cap_is_applied_at_the_current_time_when_a_publish_blocks_mid_flush() -> None:
    clock = SampleClock(START, 1_000.0)
    p = policy(max_samples=100, backlog_s=5.0)
    flush_at = START + S  # 1,001 samples due
    first = p.take(clock, flush_at, flush_at)
    assert first.run is not None and first.dropped == 0
    # The publish of the first chunk took 10 s: the rest of this flush is older than the cap.
    rest = p.take(clock, flush_at + 10 * S, flush_at)
    assert rest.run is None
    assert rest.dropped == 901


def test_nothing_to_plan_when_the_clock_is_stopped_and_drained() -> None:
    clock = SampleClock(START, 10.0)
    clock.stop(START)
    p = policy()
    assert p.next_flush_ns(clock, START) == START + S // 10  # the sample taken at START
    simulate(clock, p, START + S)
    assert p.next_flush_ns(clock, START + S) is None


@pytest.mark.parametrize(
    ("interval_s", "max_samples", "backlog_s"), [(0.0, 1, 1.0), (0.1, 0, 1.0), (0.1, 1, 0.0)]
)
def test_invalid_policies_are_refused(
    interval_s: float, max_samples: int, backlog_s: float
) -> None:
    with pytest.raises(ValueError):
        BatchPolicy.from_seconds(interval_s, max_samples, backlog_s)
