"""The order of things: set up, prepare the data, run the phases, report, clean up."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from measurements_ingester.config import Settings as IngesterSettings

from tests.bench.breakdown import flush_breakdown
from tests.bench.dataset import (
    build_batches,
    build_copy_chunks,
    build_messages,
    build_unnest_slices,
    register_sensors,
)
from tests.bench.ingesters import Ingesters
from tests.bench.latency import latency_run
from tests.bench.pipeline import Pipeline, pipeline_run
from tests.bench.progress import Progress
from tests.bench.publisher import BenchPublisher
from tests.bench.raw_copy import copy_run
from tests.bench.report import (
    GO_IDEMPOTENCY,
    PHASES,
    breakdown_lines,
    latency_lines,
    run_line,
    summary_lines,
)
from tests.bench.resources import BenchDatabase, bench_database, bench_vhost, machine_facts
from tests.bench.results import BenchError, Results, Run, best
from tests.bench.settings import (
    COPY_CHUNK_ROWS,
    GO_SLICE_ROWS,
    LATENCY_LOAD,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_BATCH,
    THROUGHPUT_SENSORS,
    BenchSettings,
)
from tests.bench.unnest_insert import create_go_table, unnest_run

PARALLELISM = (1, 2)


def _show(progress: Progress, run: Run) -> None:
    progress.say(run_line(run))
    progress.detail(run.cpu.line())


async def _phases(
    settings: BenchSettings,
    database: BenchDatabase,
    amqp_url: str,
    ingesters: Ingesters,
    progress: Progress,
) -> Results:
    facts = machine_facts(database)
    for line in facts.lines():
        progress.detail(line)
    results = Results(rows_per_phase=settings.total_rows)

    started = time.monotonic()
    sensor_ids = register_sensors(database.admin_url, THROUGHPUT_SENSORS)
    batches = build_batches(sensor_ids, settings.batches)
    messages = build_messages(batches)
    chunks = build_copy_chunks(batches, COPY_CHUNK_ROWS)
    slices = build_unnest_slices(batches, GO_SLICE_ROWS)
    create_go_table(database.admin_url)
    progress.say(
        f"prepared {len(batches)} batches of {SAMPLES_PER_BATCH:,} samples"
        f" ({THROUGHPUT_SENSORS} sensors at {SAMPLE_RATE_HZ:,.0f} Hz, 100 ms each):"
        f" {len(messages)} protobuf bodies, {len(chunks)} COPY chunks, {len(slices)} unnest"
        f" slices in {time.monotonic() - started:.1f} s"
    )

    progress.say(PHASES["a"] + f", {settings.repeats} rounds")
    for _ in range(settings.repeats):
        for parallel in PARALLELISM:
            run = await copy_run(database.admin_url, chunks, parallel, progress)
            results.copy_runs.append(run)
            _show(progress, run)

    progress.say(PHASES["b"] + f", {settings.repeats} rounds")
    progress.detail(GO_IDEMPOTENCY)
    for _ in range(settings.repeats):
        for parallel in PARALLELISM:
            run = await unnest_run(database.admin_url, slices, parallel, progress)
            results.go_runs.append(run)
            _show(progress, run)

    ingester = IngesterSettings()
    progress.say(
        PHASES["c"] + f": prefetch {ingester.prefetch}, flush at {ingester.max_batch_samples:,}"
        f" samples or {ingester.max_batch_delay_seconds * 1000:.0f} ms,"
        f" pool {ingester.database_pool_size} (IOT_* environment)"
    )
    async with BenchPublisher(amqp_url) as publisher:
        progress.detail(f"RabbitMQ {publisher.broker_version}, quorum queue, persistent messages")
        pipeline = Pipeline(database.admin_url, ingesters, publisher, progress)
        for parallel in PARALLELISM:
            run = await pipeline_run(pipeline, messages, parallel)
            results.pipeline_runs.append(run)
            _show(progress, run)

        peak = best(results.pipeline_runs)
        if peak is None:
            raise BenchError("no pipeline run to take the peak from")
        progress.say(
            f"latency at {LATENCY_LOAD:.0%} of the peak {peak.rate:,.0f} samples/s"
            f" ({peak.parallel_label}), {settings.latency_seconds:g} s after a 1 s warm-up"
        )
        results.latency = await latency_run(
            pipeline, LATENCY_LOAD * peak.rate, peak.parallel, settings.latency_seconds
        )
        for line in latency_lines(results.latency):
            progress.detail(line)

    progress.say("ingester flush breakdown (in process, the ingester's own functions)")
    results.breakdown = await flush_breakdown(
        database.admin_url, database.app_url, messages, settings.breakdown_flushes, progress
    )
    for line in breakdown_lines(results.breakdown):
        progress.detail(line)

    for top, what in ((best(results.copy_runs), "a"), (peak, "c")):
        if top is not None:
            results.notes.append(f"{what} best run {top.cpu.line()}")
    for line in summary_lines(results, facts):
        print(line, flush=True)
    return results


def run_bench(settings: BenchSettings) -> Results:
    """Everything `make bench` does; the database and vhost are gone when this returns."""
    progress = Progress()
    progress.say(
        f"iot bench: {settings.total_rows:,} rows per run, (a) and (b) {settings.repeats} rounds"
        f" each, latency {settings.latency_seconds:g} s"
    )
    with bench_vhost() as amqp_url:
        progress.say(f"vhost {amqp_url.rsplit('/', 1)[1]} created")
        try:
            with bench_database() as database:
                progress.say(f"database {database.name} created and migrated")
                try:
                    with tempfile.TemporaryDirectory(prefix="iot-bench-") as logs:
                        ingesters = Ingesters(amqp_url, database.app_url, Path(logs))
                        try:
                            return asyncio.run(
                                _phases(settings, database, amqp_url, ingesters, progress)
                            )
                        finally:
                            ingesters.stop()
                finally:
                    progress.say(f"dropping database {database.name}")
        finally:
            progress.say("deleting the vhost")
