"""Write batches exactly once: claim them in the ledger, then COPY only the new ones' samples.

Both happen in one transaction. A redelivered (or republished) batch finds its
(sensor_id, sequence) already in measurement_batches and contributes no rows; a concurrent
ingester holding the same batch blocks on the ledger's primary key until the first commits or
rolls back, so exactly one of them stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from iot_messaging import EndToEndLag
from iot_routing import MEASUREMENTS_DB_WRITER
from iot_service import ServiceMetrics
from iot_storage.copy import MEASUREMENT_COLUMNS, SampleRun, encode_measurements
from iot_storage.directory import SensorDirectory

from measurements_ingester.decode import Batch

_CLAIM = """
INSERT INTO measurement_batches
    (sensor_id, sequence, first_sample_time, sample_count, sample_rate_hz)
SELECT sensor_id, sequence, timestamptz 'epoch' + first_us * interval '1 microsecond',
       sample_count, sample_rate_hz
FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::int[], $5::float8[])
    AS claim(sensor_id, sequence, first_us, sample_count, sample_rate_hz)
ON CONFLICT (sensor_id, sequence) DO NOTHING
RETURNING sensor_id, sequence
"""


async def claim_new_runs(
    connection: Any, ids: dict[str, int], batches: Sequence[Batch]
) -> list[SampleRun]:
    """Claim the batches in the ledger; return the samples of those not stored before.

    Must run in the transaction that then copies those samples.
    """
    claimed = await connection.fetch(
        _CLAIM,
        [ids[b.serial] for b in batches],
        [b.sequence for b in batches],
        [b.first_time_us for b in batches],
        [len(b.values) for b in batches],
        [b.sample_rate_hz for b in batches],
    )
    fresh = {(row["sensor_id"], row["sequence"]) for row in claimed}
    return [
        SampleRun(ids[b.serial], b.first_time_us, b.sample_rate_hz, b.values)
        for b in batches
        if (ids[b.serial], b.sequence) in fresh
    ]


async def copy_samples(connection: Any, data: memoryview) -> None:
    """Binary COPY of encoded sample rows into measurements."""
    await connection.copy_to_table(
        "measurements", source=data, columns=list(MEASUREMENT_COLUMNS), format="binary"
    )


class StaleSensorCacheError(Exception):
    """A cached sensor id no longer exists (the sensor was deleted); retry with a fresh cache."""


@dataclass(frozen=True)
class WriteResult:
    stored_batches: int
    duplicate_batches: int
    rows: int


class MeasurementStore:
    """The measurements-ingester's batch handler."""

    def __init__(self, pool: Any, metrics: ServiceMetrics, log: Any) -> None:
        self._pool = pool
        self._log = log
        self._directory = SensorDirectory()
        self._rows = metrics.counter("samples_written", "Samples stored in measurements")
        self._duplicates = metrics.counter(
            "duplicate_batches", "Batches skipped because they were already stored"
        )
        self._lag = EndToEndLag(metrics, MEASUREMENTS_DB_WRITER)

    async def __call__(self, batches: Sequence[Batch]) -> None:
        result = await self.write(batches)
        self._rows.inc(result.rows)
        self._duplicates.inc(result.duplicate_batches)
        self._lag.observe(batch.sent_at_us for batch in batches if batch.sent_at_us)
        self._log.info(
            "batch committed",
            batches=result.stored_batches,
            duplicates=result.duplicate_batches,
            rows=result.rows,
        )

    async def write(self, batches: Sequence[Batch]) -> WriteResult:
        try:
            return await self._write(batches)
        except asyncpg.ForeignKeyViolationError as exc:
            # Not the data's fault: drop the cache; the retry registers the sensor again.
            self._directory.forget()
            raise StaleSensorCacheError(str(exc)) from exc

    async def _write(self, batches: Sequence[Batch]) -> WriteResult:
        # The same batch may sit twice in one delivery run (a sensor republished it after a
        # lost confirm); keep one.
        unique = list({(b.serial, b.sequence): b for b in batches}.values())
        async with self._pool.acquire() as connection:
            ids = await self._directory.resolve(
                connection, {b.serial: b.sample_rate_hz for b in unique}
            )
            async with connection.transaction():
                runs = await claim_new_runs(connection, ids, unique)
                if runs:
                    await copy_samples(connection, encode_measurements(runs))
        rows = sum(len(run.values) for run in runs)
        return WriteResult(len(runs), len(batches) - len(runs), rows)
