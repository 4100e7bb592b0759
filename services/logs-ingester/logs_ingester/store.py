"""Store log entries once each: (sensor_id, time, sequence) is unique, redeliveries are skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
"""


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

    async def __call__(self, entries: Sequence[LogEntry]) -> None:
        async with self._pool.acquire() as connection:
            ids = await self._directory.resolve(
                connection, dict.fromkeys((e.serial for e in entries), 1.0)
            )
            status = await connection.execute(
                _INSERT,
                [e.time_us for e in entries],
                [ids[e.serial] for e in entries],
                [e.sequence for e in entries],
                [e.level for e in entries],
                [e.message for e in entries],
            )
        if self._logs_file is not None:
            await asyncio.to_thread(append_lines, self._logs_file, entries)
        stored = int(status.rsplit(" ", 1)[-1])
        self._stored.inc(stored)
        self._log.debug("log lines stored", stored=stored, duplicates=len(entries) - stored)
