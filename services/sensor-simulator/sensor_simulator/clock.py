"""When samples are taken: exact sample times from segments, never from a sleeping loop.

A segment is a start time (integer nanoseconds since the epoch) and a rate (an exact
Fraction). Sample i of a segment is taken at start + floor(i * 1e9 / rate) ns, computed with
Python integers, so the time of sample 90,000,000 at 25 kHz is exactly one hour after the
start and nothing accumulates: there is no drift at any rate. A loop that slept 1/rate
between samples would drift by its scheduling error on every sample, and could not sleep
40 µs at all.

Samples are not generated when they fall due: the clock only counts them, and `take` hands
out runs (first time, rate, count) when a batch is flushed, so memory does not depend on how
long a flush is delayed. If flushes fall behind (broker down), `take` skips samples older than
the backlog limit and reports them as dropped instead of building an unbounded backlog.

A rate change closes the current segment at the next sample boundary and opens a new one
there; a stop (sleep) closes it at "now"; a start (wake) opens a new segment at "now". Samples
of closed segments that were already due are still handed out by `take`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

NANOS_PER_SECOND = 1_000_000_000


def exact_rate(rate_hz: float) -> Fraction:
    """The rate as the decimal number it was written as (0.1 -> 1/10, not 0x3FB999...).

    float 0.1 is slightly more than 1/10; using its binary value would put sample 360 at
    3599.999999999 s instead of 3600 s. repr() gives the shortest decimal that round-trips,
    so float(exact_rate(x)) == x and the rate on the wire is unchanged.
    """
    if not rate_hz > 0:
        raise ValueError(f"sample rate must be > 0 Hz, got {rate_hz!r}")
    return Fraction(repr(float(rate_hz)))


@dataclass
class Segment:
    """Equally spaced samples from start_ns; next_index is the first sample not yet taken."""

    start_ns: int
    rate: Fraction
    next_index: int = 0
    # Exclusive; None while the segment is open (samples keep falling due).
    end_index: int | None = None

    def time_ns(self, index: int) -> int:
        """Time of sample `index`, exact to the nanosecond (rounded down)."""
        return self.start_ns + (index * NANOS_PER_SECOND * self.rate.denominator) // (
            self.rate.numerator
        )

    def count_until(self, now_ns: int) -> int:
        """How many samples of this segment are taken at or before now_ns (ignoring end)."""
        elapsed = now_ns - self.start_ns
        if elapsed < 0:
            return 0
        # time_ns(i) <= now  <=>  i < (elapsed + 1) * rate / 1e9, so the count is that ceiling.
        numerator = (elapsed + 1) * self.rate.numerator
        denominator = NANOS_PER_SECOND * self.rate.denominator
        return -(-numerator // denominator)

    def close(self, now_ns: int) -> int:
        """End the segment after the last sample taken at or before now_ns; return the end."""
        end = max(self.count_until(now_ns), self.next_index)
        self.end_index = end
        return end

    @property
    def exhausted(self) -> bool:
        """Closed, and every sample in it has been taken or dropped."""
        return self.end_index is not None and self.next_index >= self.end_index


@dataclass(frozen=True)
class Run:
    """Consecutive samples to generate and send as one batch."""

    first_time_ns: int
    rate: Fraction
    count: int

    @property
    def rate_hz(self) -> float:
        return float(self.rate)

    def offsets_ns(self) -> NDArray[np.float64]:
        """Each sample's offset from the first; float is exact enough within one batch."""
        return np.arange(self.count, dtype=np.float64) * (NANOS_PER_SECOND / self.rate_hz)


@dataclass(frozen=True)
class Take:
    """What one `take` produced: a run to send (or None) and samples skipped as too old."""

    run: Run | None
    dropped: int


class SampleClock:
    """The segments of one sensor that still hold samples not yet taken."""

    def __init__(self, start_ns: int, rate_hz: float) -> None:
        self._segments: deque[Segment] = deque([Segment(start_ns, exact_rate(rate_hz))])

    @property
    def running(self) -> bool:
        """True while an open segment exists (the sensor is sampling)."""
        return bool(self._segments) and self._segments[-1].end_index is None

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Snapshot for inspection in tests and logs."""
        return tuple(self._segments)

    def change_rate(self, rate_hz: float, now_ns: int) -> int:
        """Switch to rate_hz at the first sample boundary after now_ns; return that time.

        Samples due up to now keep the old spacing; the new segment starts exactly where the
        old one would have taken its next sample, so batches stay contiguous across the change.
        """
        rate = exact_rate(rate_hz)
        current = self._open_segment()
        start = current.time_ns(self._close(current, now_ns))
        self._segments.append(Segment(start, rate))
        return start

    def stop(self, now_ns: int) -> None:
        """Stop sampling: nothing after now_ns is taken until `start`."""
        self._close(self._open_segment(), now_ns)

    def start(self, now_ns: int, rate_hz: float) -> None:
        """Start sampling again with a new segment whose first sample is at now_ns."""
        if self.running:
            raise RuntimeError("the sample clock is already running")
        self._segments.append(Segment(now_ns, exact_rate(rate_hz)))

    def due_time_ns(self, count: int) -> int | None:
        """When `count` samples not yet taken will be due; None if that never happens."""
        if count < 1:
            raise ValueError("count must be >= 1")
        remaining = count
        for segment in self._segments:
            if segment.end_index is None:
                return segment.time_ns(segment.next_index + remaining - 1)
            available = segment.end_index - segment.next_index
            if remaining <= available:
                return segment.time_ns(segment.next_index + remaining - 1)
            remaining -= available
        return None

    def take(
        self,
        now_ns: int,
        *,
        max_samples: int,
        max_backlog_ns: int,
        until_ns: int | None = None,
    ) -> Take:
        """Hand out the oldest due samples (at most max_samples, from one segment).

        Samples taken at or before now_ns - max_backlog_ns are skipped and counted as dropped.
        until_ns (default now_ns) limits which samples count as due, so that a flush that
        started at until_ns ends even while new samples keep falling due.
        """
        if max_samples < 1:
            raise ValueError("max_samples must be >= 1")
        until = now_ns if until_ns is None else min(until_ns, now_ns)
        stale_at = now_ns - max_backlog_ns
        dropped = 0
        while self._segments:
            segment = self._segments[0]
            limit = segment.count_until(until)
            if segment.end_index is not None:
                limit = min(limit, segment.end_index)
            stale = min(limit, segment.count_until(stale_at))
            if stale > segment.next_index:
                dropped += stale - segment.next_index
                segment.next_index = stale
            if segment.next_index < limit:
                count = min(limit - segment.next_index, max_samples)
                run = Run(segment.time_ns(segment.next_index), segment.rate, count)
                segment.next_index += count
                return Take(run, dropped)
            if not segment.exhausted:
                break
            self._segments.popleft()
        return Take(None, dropped)

    def _open_segment(self) -> Segment:
        if not self.running:
            raise RuntimeError("the sample clock is stopped")
        return self._segments[-1]

    def _close(self, segment: Segment, now_ns: int) -> int:
        """Close the open segment; return its end index."""
        end = segment.close(now_ns)
        # A closed segment with nothing left to hand out would only be skipped later.
        if segment.exhausted:
            self._segments.pop()
        return end


class WallClock:
    """Wall-clock nanoseconds since the epoch that advance with the monotonic clock.

    Read once at start-up, then moved only by the monotonic clock: if NTP steps the system
    clock, sample times neither jump back (overlapping earlier batches) nor jump forward
    (a burst of samples nobody took).
    """

    def __init__(self) -> None:
        self._wall_ns = time.time_ns()
        self._monotonic_ns = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._wall_ns + time.monotonic_ns() - self._monotonic_ns
