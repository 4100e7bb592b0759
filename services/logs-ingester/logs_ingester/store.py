"""Store log entries once each: (sensor_id, time, sequence) is unique, redeliveries are skipped.

The logfmt file gets the newly inserted lines only, written and fsynced inside the database
transaction: a redelivery after a commit adds nothing to either, and a crash before the
commit at worst writes the same lines again, exactly alike (log shippers such as Loki drop
such duplicates). Lines are never lost from the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iot_messaging import EndToEndLag
from iot_routing import LOGS
from iot_service import ServiceMetrics
from iot_storage.directory import SensorDirectory

from logs_ingester.decode import LogEntry
from logs_ingester.logfmt import append_lines

_INSERT = """
INSERT INTO sensor_logs (time, sensor_id, sequence, level, message)
SELECT timestamptz 'epoch' + time_us * interval '1 microsecond', sensor_id, sequence, level,
       message
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[])
    AS l(time_us, sensor_id, sequence, level, message)
ON CONFLICT (sensor_id, time, sequence) DO NOTHING
RETURNING sensor_id, sequence
"""
# sensor_logs has no foreign key (it would slow every insert), so the ids are checked here: a
# sensor deleted through the API leaves a stale id in the directory's cache. KEY SHARE keeps the
# rows from being deleted until the transaction ends.
_EXISTING = "SELECT id FROM sensors WHERE id = ANY($1::int[]) ORDER BY id FOR KEY SHARE"


class StaleSensorIdError(Exception):
    """A cached sensor id no longer exists; the batch is retried (a transient error)."""


class LogStore:
    """The logs-ingester's batch handler."""

    def __init__(
        self, pool: Any, metrics: ServiceMetrics, log: Any, logs_file: Path | None
    ) -> None:
        self._pool = pool
        self._log = log
        self._logs_file = logs_file
        self._directory = SensorDirectory()
        self._stored = metrics.counter("log_lines_written", "Log lines stored in sensor_logs")
        self._lag = EndToEndLag(metrics, LOGS)

    async def __call__(self, batch: Sequence[LogEntry]) -> None:
        # A line republished by its sensor can appear twice in one batch; keep one.
        entries = list({(e.serial, e.sequence): e for e in batch}.values())
        async with self._pool.acquire() as connection:
            ids = await self._directory.resolve(
                connection, dict.fromkeys((e.serial for e in entries), 1.0)
            )
            async with connection.transaction():
                existing = {
                    row["id"] for row in await connection.fetch(_EXISTING, list(ids.values()))
                }
                if existing != set(ids.values()):
                    # Deleted since cached: forget, resolve afresh (re-creating the sensor), and
                    # let the consumer retry this batch.
                    self._directory.forget()
                    raise StaleSensorIdError("a sensor of this batch was deleted; retrying")
                inserted = await connection.fetch(
                    _INSERT,
                    [e.time_us for e in entries],
                    [ids[e.serial] for e in entries],
                    [e.sequence for e in entries],
                    [e.level for e in entries],
                    [e.message for e in entries],
                )
                new_keys = {(row["sensor_id"], row["sequence"]) for row in inserted}
                fresh = [e for e in entries if (ids[e.serial], e.sequence) in new_keys]
                if self._logs_file is not None and fresh:
                    await asyncio.to_thread(append_lines, self._logs_file, fresh)
        stored = len(inserted)
        self._stored.inc(stored)
        # A log line's own time is when the sensor wrote it: the lag covers its whole trip.
        self._lag.observe(entry.time_us for entry in fresh)
        self._log.debug("log lines stored", stored=stored, duplicates=len(batch) - stored)
