"""(a) The raw limit: binary COPY of pre-built rows into ``measurements``, nothing else.

The rows are those the pipeline writes, in COPY chunks the size of one ingester flush, each
its own transaction, sent over asyncpg as the ingester does; only the message broker, the
protobuf decoding and the ledger are missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from iot_storage.copy import MEASUREMENT_COLUMNS

from tests.bench.conditions import Watch
from tests.bench.dataset import CopyChunk
from tests.bench.progress import Counter, Progress
from tests.bench.results import BenchError, Run
from tests.bench.tables import MEASUREMENT_TABLES, count_rows, reset


@asynccontextmanager
async def _connections(url: str, count: int) -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    try:
        for _ in range(count):
            opened.append(
                await asyncpg.connect(url, server_settings={"application_name": "bench-copy"})
            )
        yield opened
    finally:
        for connection in opened:
            await connection.close()


async def _copy(connection: Any, chunks: Sequence[CopyChunk], done: Counter) -> None:
    for chunk in chunks:
        await connection.copy_to_table(
            "measurements", source=chunk.data, columns=list(MEASUREMENT_COLUMNS), format="binary"
        )
        done.add(chunk.rows)


async def copy_run(
    admin_url: str, chunks: Sequence[CopyChunk], parallel: int, progress: Progress
) -> Run:
    """Empty measurements, then COPY every chunk over `parallel` connections; timed."""
    rows = sum(chunk.rows for chunk in chunks)
    reset(admin_url, *MEASUREMENT_TABLES)
    done = Counter(rows)
    async with _connections(admin_url, parallel) as connections:
        watch = Watch(admin_url)
        started = time.monotonic()
        async with progress.ticking(done.status):
            await asyncio.gather(
                *(_copy(c, chunks[k::parallel], done) for k, c in enumerate(connections))
            )
        seconds = time.monotonic() - started
        used = watch.stop()
    stored = count_rows(admin_url, "measurements")
    if stored != rows:
        raise BenchError(f"(a) stored {stored:,} rows, expected {rows:,}")
    return Run("a", parallel, rows, seconds, used)
