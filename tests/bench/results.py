"""What the phases measured, in plain data the report turns into text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.bench.conditions import Conditions
from tests.bench.resources import MachineFacts


class BenchError(Exception):
    """The benchmark could not measure what it should (not: a number missed its goal)."""


@dataclass(frozen=True)
class Run:
    """One timed run: rows written by `parallel` connections or ingesters in `seconds`."""

    phase: str  # "a", "b" or "c"
    parallel: int
    rows: int
    seconds: float
    conditions: Conditions

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def parallel_label(self) -> str:
        unit = "ingester" if self.phase == "c" else "conn"
        return f"{self.parallel} {unit}{'s' if self.parallel > 1 else ''}"


def best(runs: Sequence[Run], parallel: int | None = None) -> Run | None:
    """The fastest run, of all or of those with the given parallelism."""
    candidates = [r for r in runs if parallel is None or r.parallel == parallel]
    return max(candidates, key=lambda r: r.rate, default=None)


@dataclass(frozen=True)
class LatencyResult:
    """Publish-to-commit latency of batches published at a steady, paced rate."""

    load: float  # fraction of the peak pipeline rate
    target_rate: float  # samples/s asked for
    achieved_rate: float  # samples/s actually published in the measured window
    ingesters: int
    sensors: int
    batches: int  # measured (after warm-up)
    p50_ms: float
    p99_ms: float
    max_ms: float
    poll_interval_ms: float
    mean_poll_cycle_ms: float
    publish_late_p99_ms: float  # how far the publisher fell behind its schedule
    conditions: Conditions


@dataclass(frozen=True)
class Step:
    """One step of an ingester flush: median seconds over the repetitions."""

    name: str
    seconds: float


@dataclass(frozen=True)
class Breakdown:
    """Where one ingester flush of `samples` samples spends its time."""

    samples: int
    messages: int
    flushes: int
    steps: list[Step]
    write_seconds: float  # MeasurementStore.write() as a whole, median


@dataclass
class Results:
    """Everything one benchmark run found."""

    rows_per_phase: int
    copy_runs: list[Run] = field(default_factory=list)
    go_runs: list[Run] = field(default_factory=list)
    pipeline_runs: list[Run] = field(default_factory=list)
    latencies: list[LatencyResult] = field(default_factory=list)
    breakdown: Breakdown | None = None
    facts: MachineFacts | None = None
