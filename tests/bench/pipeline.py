"""(c) The full pipeline: publisher with confirms -> RabbitMQ -> measurements-ingester -> PG.

Rows committed per second, from the first publish until the ledger shows the last batch
committed; the ledger row and the batch's samples commit in one transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from tests.bench.conditions import Watch
from tests.bench.dataset import Message
from tests.bench.ingesters import Ingesters
from tests.bench.progress import Counter, Progress
from tests.bench.publisher import BenchPublisher
from tests.bench.results import BenchError, Run
from tests.bench.settings import PUBLISH_WINDOW, THROUGHPUT_POLL_SECONDS
from tests.bench.tables import MEASUREMENT_TABLES, count_rows, reset

COMMITTED_SAMPLES = "SELECT coalesce(sum(sample_count), 0) FROM measurement_batches"
START_TIMEOUT_SECONDS = 60.0
DRAIN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Pipeline:
    """What a pipeline run works with: the database, the ingesters and the publisher."""

    admin_url: str
    ingesters: Ingesters
    publisher: BenchPublisher
    progress: Progress


async def start_ingesters(
    ingesters: Ingesters, publisher: BenchPublisher, count: int, progress: Progress
) -> None:
    """Start count ingesters and wait until each consumes the queue."""
    ingesters.start(count)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while (consuming := await publisher.consumers()) < count:
        ingesters.check()
        if time.monotonic() > deadline:
            raise BenchError(f"only {consuming} of {count} ingesters consume after 60 s")
        await asyncio.sleep(0.05)
    progress.say(f"  {count} ingester(s) consuming (pids {', '.join(map(str, ingesters.pids))})")


async def wait_committed(
    admin_url: str, total: int, ingesters: Ingesters, done: Counter, publishing: asyncio.Task[None]
) -> None:
    """Poll the ledger until total samples are committed."""
    connection = await asyncpg.connect(admin_url)
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while True:
            done.done = int(await connection.fetchval(COMMITTED_SAMPLES))
            if done.done >= total:
                return
            if publishing.done() and publishing.exception() is not None:
                await publishing  # raises the publisher's error
            ingesters.check()
            if time.monotonic() > deadline:
                raise BenchError(f"(c) only {done.done:,} of {total:,} samples committed")
            await asyncio.sleep(THROUGHPUT_POLL_SECONDS)
    finally:
        await connection.close()


async def pipeline_run(pipeline: Pipeline, messages: Sequence[Message], count: int) -> Run:
    """Start count ingesters, publish every message, time until all are committed."""
    admin_url, ingesters, progress = pipeline.admin_url, pipeline.ingesters, pipeline.progress
    total = sum(m.samples for m in messages)
    reset(admin_url, *MEASUREMENT_TABLES)
    try:
        await start_ingesters(ingesters, pipeline.publisher, count, progress)
        done = Counter(total, unit="samples committed")
        watch = Watch(admin_url)
        started = time.monotonic()
        publishing = asyncio.create_task(pipeline.publisher.publish_all(messages, PUBLISH_WINDOW))
        published_after = 0.0

        def note_published(_: asyncio.Task[None]) -> None:
            nonlocal published_after
            published_after = time.monotonic() - started

        publishing.add_done_callback(note_published)
        async with progress.ticking(done.status):
            await wait_committed(admin_url, total, ingesters, done, publishing)
        seconds = time.monotonic() - started
        used = watch.stop(ingesters.pids)
        await publishing
        progress.detail(
            f"publisher: all {len(messages)} messages confirmed after {published_after:.2f} s"
            f" ({len(messages) / max(published_after, 1e-9):,.0f} msg/s)"
        )
    finally:
        for problem in ingesters.stop():
            progress.detail(f"warning: {problem}")
    stored = count_rows(admin_url, "measurements")
    if stored != total:
        raise BenchError(f"(c) measurements holds {stored:,} rows, expected {total:,}")
    return Run("c", count, total, seconds, used)
