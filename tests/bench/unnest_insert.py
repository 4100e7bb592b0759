"""(b) The Go original's write method, reproduced on a table shaped like its own.

The original inserted slices of 25,000 rows, each with one statement
``INSERT ... SELECT * FROM unnest($1::timestamptz[], $2::int[], $3::float8[])
ON CONFLICT DO NOTHING`` in its own transaction, into a hypertable whose UNIQUE (sensor_id, time)
index was its only idempotency mechanism: a redelivered row conflicted and was skipped. Every
row therefore paid for a unique-index probe and insert, plus the (time DESC) index that
create_hypertable adds by default. The arrays are encoded before timing,
as the Go client's typed arrays cost it next to nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from tests.bench.conditions import Watch
from tests.bench.dataset import UnnestSlice
from tests.bench.pgarrays import register_prebuilt_arrays
from tests.bench.progress import Counter, Progress
from tests.bench.results import BenchError, Run
from tests.bench.tables import count_rows, reset

GO_TABLE = "go_measurements"
CREATE_GO_TABLE = f"""
CREATE TABLE {GO_TABLE} (
    time timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    value double precision NOT NULL,
    UNIQUE (sensor_id, time)
)
"""
CREATE_GO_TIME_INDEX = f"CREATE INDEX {GO_TABLE}_time_idx ON {GO_TABLE} (time DESC)"
# The statement as the issue quotes it; psycopg turns the %b placeholders into $1..$3.
GO_INSERT = f"""
INSERT INTO {GO_TABLE} (time, sensor_id, value)
SELECT * FROM unnest(%b::timestamptz[], %b::int[], %b::float8[])
ON CONFLICT DO NOTHING
"""

AsyncConnection = psycopg.AsyncConnection[Any]


def create_go_table(admin_url: str) -> None:
    """Create the Go-shaped table in the bench database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(CREATE_GO_TABLE)
        conn.execute(CREATE_GO_TIME_INDEX)


@asynccontextmanager
async def _connections(url: str, count: int) -> AsyncIterator[list[AsyncConnection]]:
    # Autocommit: each statement is its own transaction, as the original's pool.Exec was.
    opened: list[AsyncConnection] = []
    try:
        for _ in range(count):
            connection = await psycopg.AsyncConnection.connect(
                url, autocommit=True, application_name="bench-go-unnest"
            )
            opened.append(connection)
            register_prebuilt_arrays(connection)
        yield opened
    finally:
        for connection in opened:
            await connection.close()


async def _insert(connection: AsyncConnection, slices: Sequence[UnnestSlice], done: Counter) -> int:
    inserted = 0
    for piece in slices:
        cursor = await connection.execute(
            GO_INSERT, (piece.times, piece.sensor_ids, piece.values), prepare=True
        )
        inserted += cursor.rowcount
        done.add(piece.rows)
    return inserted


async def unnest_run(
    admin_url: str, slices: Sequence[UnnestSlice], parallel: int, progress: Progress
) -> Run:
    """Empty the Go table, then insert every slice over `parallel` connections; timed."""
    rows = sum(piece.rows for piece in slices)
    reset(admin_url, GO_TABLE)
    done = Counter(rows)
    async with _connections(admin_url, parallel) as connections:
        watch = Watch(admin_url)
        started = time.monotonic()
        async with progress.ticking(done.status):
            counts = await asyncio.gather(
                *(_insert(c, slices[k::parallel], done) for k, c in enumerate(connections))
            )
        seconds = time.monotonic() - started
        used = watch.stop()
    inserted, stored = sum(counts), count_rows(admin_url, GO_TABLE)
    if inserted != rows or stored != rows:
        raise BenchError(f"(b) inserted {inserted:,} and stored {stored:,} rows of {rows:,}")
    return Run("b", parallel, rows, seconds, used)
