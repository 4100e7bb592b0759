"""Publish-to-commit latency at a steady fraction of the pipeline's peak rate.

The publisher is paced to the target rate; batches are spread over as many 25 kHz sensors as
that rate needs at one batch per sensor per 100 ms. A poller reads the ledger every few
milliseconds and notes when each batch's row first became visible: latency is that moment
minus the batch's publish time, both on this process's monotonic clock. The poll interval
(plus the query's own time) is the resolution.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import asyncpg
import numpy as np

from tests.bench.conditions import Conditions, Watch
from tests.bench.dataset import Message, build_batches, build_messages, register_sensors
from tests.bench.pipeline import Pipeline, start_ingesters
from tests.bench.results import BenchError, LatencyResult
from tests.bench.settings import (
    BATCH_INTERVAL_US,
    LATENCY_POLL_SECONDS,
    LATENCY_WARMUP_SECONDS,
    SAMPLES_PER_BATCH,
)
from tests.bench.tables import MEASUREMENT_TABLES, reset

# Ledger rows at or past each sensor's oldest batch not seen yet (primary key range scans).
_NEW_LEDGER_ROWS = """
SELECT b.sensor_id, b.sequence
FROM measurement_batches AS b
JOIN unnest($1::int[], $2::bigint[]) AS w(sensor_id, next_sequence)
  ON b.sensor_id = w.sensor_id AND b.sequence >= w.next_sequence
"""
SEEN_TIMEOUT_SECONDS = 60.0

Key = tuple[int, int]


@dataclass
class _Tracker:
    """Publish and first-seen times of every batch, and each sensor's oldest unseen batch."""

    published: dict[Key, float] = field(default_factory=dict)
    seen: dict[Key, float] = field(default_factory=dict)
    late: list[float] = field(default_factory=list)
    next_sequence: dict[int, int] = field(default_factory=dict)
    polls: int = 0
    polling_seconds: float = 0.0

    def on_publish(self, message: Message, at: float, late_by: float) -> None:
        self.published[message.sensor_id, message.sequence] = at
        self.late.append(late_by)

    def on_rows(self, rows: list[tuple[int, int]], at: float) -> None:
        for sensor_id, sequence in rows:
            self.seen.setdefault((sensor_id, sequence), at)
        for sensor_id, oldest in list(self.next_sequence.items()):
            unseen = oldest
            while (sensor_id, unseen) in self.seen:
                unseen += 1
            self.next_sequence[sensor_id] = unseen


async def _poll(admin_url: str, tracker: _Tracker, expected: int) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        query = await connection.prepare(_NEW_LEDGER_ROWS)
        first = time.monotonic()
        while len(tracker.seen) < expected:
            started = time.monotonic()
            sensors = list(tracker.next_sequence)
            rows = await query.fetch(sensors, [tracker.next_sequence[s] for s in sensors])
            tracker.on_rows([(r[0], r[1]) for r in rows], time.monotonic())
            tracker.polls += 1
            tracker.polling_seconds = time.monotonic() - first
            await asyncio.sleep(max(0.0, LATENCY_POLL_SECONDS - (time.monotonic() - started)))
    finally:
        await connection.close()


def _messages(admin_url: str, samples_per_second: float, seconds: float) -> list[Message]:
    per_second = samples_per_second / SAMPLES_PER_BATCH
    sensors = max(1, math.ceil(per_second * BATCH_INTERVAL_US / 1e6))
    sensor_ids = register_sensors(admin_url, sensors)
    return build_messages(build_batches(sensor_ids, math.ceil(per_second * seconds), seed=2))


async def latency_run(
    pipeline: Pipeline, load: float, samples_per_second: float, count: int, seconds: float
) -> LatencyResult:
    """Publish at samples_per_second for warm-up + seconds into count ingesters."""
    admin_url, ingesters, progress = pipeline.admin_url, pipeline.ingesters, pipeline.progress
    per_second = samples_per_second / SAMPLES_PER_BATCH
    messages = _messages(admin_url, samples_per_second, LATENCY_WARMUP_SECONDS + seconds)
    reset(admin_url, *MEASUREMENT_TABLES)
    tracker = _Tracker(next_sequence=dict.fromkeys({m.sensor_id for m in messages}, 1))
    try:
        await start_ingesters(ingesters, pipeline.publisher, count, progress)
        poller = asyncio.create_task(_poll(admin_url, tracker, len(messages)))
        watch = Watch(admin_url)
        started = time.monotonic()

        def status() -> str:
            return (
                f"{len(tracker.published):,}/{len(messages):,} batches published,"
                f" {len(tracker.seen):,} committed ({time.monotonic() - started:.1f} s)"
            )

        async with progress.ticking(status):
            await pipeline.publisher.publish_paced(messages, per_second, tracker.on_publish)
            published_at = time.monotonic()
            used = watch.stop(ingesters.pids)
            while not poller.done():
                ingesters.check()
                if time.monotonic() - published_at > SEEN_TIMEOUT_SECONDS:
                    poller.cancel()
                    raise BenchError(
                        f"latency: {len(messages) - len(tracker.seen)} batches never committed"
                    )
                await asyncio.sleep(0.05)
            await poller
    finally:
        for problem in ingesters.stop():
            progress.detail(f"warning: {problem}")
    return _result(
        tracker,
        messages,
        started=started,
        load=load,
        target=samples_per_second,
        count=count,
        used=used,
    )


def _result(
    tracker: _Tracker,
    messages: list[Message],
    *,
    started: float,
    load: float,
    target: float,
    count: int,
    used: Conditions,
) -> LatencyResult:
    measured_from = started + LATENCY_WARMUP_SECONDS
    keys = [k for k, at in tracker.published.items() if at >= measured_from]
    if not keys:
        raise BenchError("latency: no batch was published after the warm-up")
    latencies = np.array([tracker.seen[k] - tracker.published[k] for k in keys]) * 1000
    window = max(tracker.published[k] for k in keys) - measured_from
    p50, p99 = np.percentile(latencies, [50, 99])
    cycle_ms = tracker.polling_seconds / max(tracker.polls - 1, 1) * 1000
    return LatencyResult(
        load=load,
        target_rate=target,
        achieved_rate=(len(keys) - 1) * SAMPLES_PER_BATCH / window if window > 0 else 0.0,
        ingesters=count,
        sensors=len({m.sensor_id for m in messages}),
        batches=len(keys),
        p50_ms=float(p50),
        p99_ms=float(p99),
        max_ms=float(latencies.max()),
        poll_interval_ms=LATENCY_POLL_SECONDS * 1000,
        mean_poll_cycle_ms=cycle_ms,
        publish_late_p99_ms=float(np.percentile(np.array(tracker.late), 99) * 1000),
        conditions=used,
    )
