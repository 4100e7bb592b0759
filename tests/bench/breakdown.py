"""Where one ingester flush spends its time, step by step, with the ingester's own code.

A flush of ~50,000 samples (the default IOT_MAX_BATCH_SAMPLES) is replayed in this process
against the bench database, as iot_app: decode_batch on each protobuf body, then the steps of
MeasurementStore.write in the order it takes them (sensor lookup, BEGIN, ledger claim, COPY
buffer, COPY, COMMIT). MeasurementStore.write as a whole is timed on other batches as a check.
What this leaves out is the consumer's share: AMQP frames, acks and the event loop.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_service import ServiceMetrics, load_settings
from iot_storage.copy import encode_measurements
from iot_storage.directory import SensorDirectory
from iot_storage.pool import create_pool
from measurements_ingester.config import Settings
from measurements_ingester.decode import Batch, decode_batch
from measurements_ingester.store import MeasurementStore, claim_new_runs, copy_samples

from tests.bench.dataset import Message
from tests.bench.progress import Progress
from tests.bench.results import BenchError, Breakdown, Step
from tests.bench.tables import MEASUREMENT_TABLES, reset

STEPS = (
    "protobuf parse only (part of decode)",
    "decode_batch: protobuf + validation + numpy",
    "sensor ids (directory cache)",
    "BEGIN",
    "ledger claim (INSERT .. unnest .. RETURNING)",
    "COPY buffer (encode_measurements)",
    "COPY into measurements",
    "COMMIT",
)


class _Clock:
    """Records the seconds since the previous mark under a step name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = now - self._last
        self._last = now


def _decode_all(messages: Sequence[Message], settings: Settings) -> list[Batch]:
    return [
        decode_batch(
            m.body,
            m.routing_key,
            max_rate_hz=settings.max_sample_rate_hz,
            max_samples=settings.max_samples_per_message,
        )
        for m in messages
    ]


async def _one_flush(
    connection: Any, directory: SensorDirectory, messages: Sequence[Message], settings: Settings
) -> dict[str, float]:
    clock = _Clock()
    for message in messages:
        MeasurementBatch.FromString(message.body)
    clock.mark(STEPS[0])
    batches = _decode_all(messages, settings)
    clock.mark(STEPS[1])
    ids = await directory.resolve(connection, {b.serial: b.sample_rate_hz for b in batches})
    clock.mark(STEPS[2])
    transaction = connection.transaction()
    await transaction.start()
    clock.mark(STEPS[3])
    runs = await claim_new_runs(connection, ids, batches)
    clock.mark(STEPS[4])
    data = encode_measurements(runs)
    clock.mark(STEPS[5])
    await copy_samples(connection, data)
    clock.mark(STEPS[6])
    await transaction.commit()
    clock.mark(STEPS[7])
    if len(runs) != len(batches):
        raise BenchError("breakdown: some batches were already in the ledger")
    return clock.seconds


async def flush_breakdown(
    admin_url: str, app_url: str, messages: Sequence[Message], flushes: int, progress: Progress
) -> Breakdown:
    """Time `flushes` step-by-step flushes and as many whole MeasurementStore.write calls."""
    settings = load_settings(Settings, "measurements-ingester")
    per_flush = max(1, settings.max_batch_samples // messages[0].samples)
    groups = [messages[k : k + per_flush] for k in range(0, len(messages), per_flush)]
    flushes = min(flushes, (len(groups) - 2) // 2)  # two warm-ups, then two sets of flushes
    if flushes < 1 or len(groups[flushes + 1]) < per_flush:
        raise BenchError("breakdown: too few messages for a full flush; raise --rows")
    reset(admin_url, *MEASUREMENT_TABLES)
    connection = await asyncpg.connect(app_url)
    directory = SensorDirectory()
    try:
        # A warm-up flush: the directory cache fills, the connection's statements are prepared.
        await _one_flush(connection, directory, groups[0], settings)
        samples = [
            await _one_flush(connection, directory, g, settings) for g in groups[1 : flushes + 1]
        ]
    finally:
        await connection.close()
    pool = await create_pool(app_url, "bench-breakdown", max_size=1)
    try:
        store = MeasurementStore(pool, ServiceMetrics("bench_breakdown"), structlog.get_logger())
        await store.write(_decode_all(groups[flushes + 1], settings))  # warm-up
        whole = []
        for group in groups[flushes + 2 : 2 * flushes + 2]:
            batches = _decode_all(group, settings)
            started = time.perf_counter()
            await store.write(batches)
            whole.append(time.perf_counter() - started)
    finally:
        await pool.close()
    progress.say(f"  replayed {flushes} flushes step by step and {len(whole)} whole writes")
    return Breakdown(
        samples=sum(m.samples for m in groups[1]),
        messages=len(groups[1]),
        flushes=flushes,
        steps=[Step(name, statistics.median(s[name] for s in samples)) for name in STEPS],
        write_seconds=statistics.median(whole),
    )
