"""When to flush a batch, and how much goes into each one.

A batch is flushed by time or by size, whichever comes first:
- by time: at most every `interval`, all due samples are sent (a 25 kHz sensor sends
  2,500-sample batches every 100 ms). A slow sensor wakes when its next sample is due rather
  than on every tick, so a 1 Hz sensor sends one 1-sample batch per second and never an empty
  one;
- by size: as soon as `max_samples` samples are due, even if the interval has not elapsed.
A flush sends every due sample in chunks of at most `max_samples`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sensor_simulator.clock import NANOS_PER_SECOND, SampleClock, Take


@dataclass(frozen=True)
class BatchPolicy:
    """Batch sizing and timing, plus the backlog limit applied while flushing."""

    interval_ns: int
    max_samples: int
    max_backlog_ns: int

    def __post_init__(self) -> None:
        if self.interval_ns <= 0 or self.max_samples < 1 or self.max_backlog_ns <= 0:
            raise ValueError(f"invalid batch policy: {self}")

    @classmethod
    def from_seconds(
        cls, interval_seconds: float, max_samples: int, max_backlog_seconds: float
    ) -> BatchPolicy:
        return cls(
            interval_ns=round(interval_seconds * NANOS_PER_SECOND),
            max_samples=max_samples,
            max_backlog_ns=round(max_backlog_seconds * NANOS_PER_SECOND),
        )

    def next_flush_ns(self, clock: SampleClock, last_flush_ns: int) -> int | None:
        """When the next flush is due; None if no sample will fall due (asleep, drained)."""
        first_due = clock.due_time_ns(1)
        if first_due is None:
            return None
        by_time = max(last_flush_ns + self.interval_ns, first_due)
        full = clock.due_time_ns(self.max_samples)
        return by_time if full is None else min(by_time, full)

    def take(self, clock: SampleClock, now_ns: int, flush_ns: int) -> Take:
        """The next chunk of a flush that started at flush_ns, with the backlog cap at now_ns.

        The cap is applied at the current time, not at the flush's start: if the broker goes
        down in the middle of a flush, what is left of it is capped once publishing resumes.
        """
        return clock.take(
            now_ns,
            max_samples=self.max_samples,
            max_backlog_ns=self.max_backlog_ns,
            until_ns=flush_ns,
        )
