"""The order of things: set up, prepare the data, run the phases, report, clean up."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from iot_service import load_settings
from measurements_ingester.config import Settings as IngesterSettings

from tests.bench.breakdown import flush_breakdown
from tests.bench.dataset import (
    CopyChunk,
    Message,
    UnnestSlice,
    build_batches,
    build_copy_chunks,
    build_messages,
    build_unnest_slices,
    register_sensors,
)
from tests.bench.ingesters import Ingesters
from tests.bench.interrupts import INTERRUPTS
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
    LATENCY_LOADS,
    LATENCY_WARMUP_SECONDS,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_BATCH,
    THROUGHPUT_SENSORS,
    BenchSettings,
)
from tests.bench.unnest_insert import create_go_table, unnest_run

PARALLELISM = (1, 2)


def _show(progress: Progress, run: Run) -> None:
    progress.say(run_line(run))
    progress.detail(run.conditions.line())


@dataclass(frozen=True)
class _Data:
    """The pre-built rows in each phase's form."""

    messages: list[Message]
    chunks: list[CopyChunk]
    slices: list[UnnestSlice]


class _Bench:
    """One run's phases, in order, sharing the database, vhost, ingesters and results."""

    def __init__(
        self,
        settings: BenchSettings,
        database: BenchDatabase,
        amqp_url: str,
        ingesters: Ingesters,
        progress: Progress,
    ) -> None:
        self.settings = settings
        self.database = database
        self.amqp_url = amqp_url
        self.ingesters = ingesters
        self.progress = progress
        self.results = Results(rows_per_phase=settings.total_rows)

    def prepare(self) -> _Data:
        started = time.monotonic()
        sensor_ids = register_sensors(self.database.admin_url, THROUGHPUT_SENSORS)
        batches = build_batches(sensor_ids, self.settings.batches)
        data = _Data(
            messages=build_messages(batches),
            chunks=build_copy_chunks(batches, COPY_CHUNK_ROWS),
            slices=build_unnest_slices(batches, GO_SLICE_ROWS),
        )
        create_go_table(self.database.admin_url)
        self.progress.say(
            f"prepared {len(batches)} batches of {SAMPLES_PER_BATCH:,} samples"
            f" ({THROUGHPUT_SENSORS} sensors at {SAMPLE_RATE_HZ:,.0f} Hz, 100 ms each):"
            f" {len(data.messages)} protobuf bodies, {len(data.chunks)} COPY chunks,"
            f" {len(data.slices)} unnest slices in {time.monotonic() - started:.1f} s"
        )
        return data

    def describe(self, publisher: BenchPublisher) -> None:
        """What each phase does, printed once before the rounds."""
        ingester = load_settings(IngesterSettings, "measurements-ingester")
        for line in (
            PHASES["a"] + ": pre-built COPY data, each chunk its own transaction",
            PHASES["b"] + ": " + GO_IDEMPOTENCY,
            PHASES["c"]
            + f": RabbitMQ {publisher.broker_version}, quorum queue, persistent messages with"
            f" publisher confirms; ingester prefetch {ingester.prefetch}, flush at"
            f" {ingester.max_batch_samples:,} samples or"
            f" {ingester.max_batch_delay_seconds * 1000:.0f} ms, pool"
            f" {ingester.database_pool_size} (IOT_* environment)",
            f"{self.settings.repeats} rounds, each running (a), (b) and (c) with one and two"
            " connections/ingesters, so that a burst of other load on the machine hits one"
            " round of every phase rather than all rounds of one",
        ):
            self.progress.detail(line)

    async def one_round(self, data: _Data, pipeline: Pipeline) -> None:
        """(a), (b) and (c), each with one and then two connections or ingesters."""
        admin_url = self.database.admin_url
        for parallel in PARALLELISM:
            run = await copy_run(admin_url, data.chunks, parallel, self.progress)
            self.results.copy_runs.append(run)
            _show(self.progress, run)
        for parallel in PARALLELISM:
            run = await unnest_run(admin_url, data.slices, parallel, self.progress)
            self.results.go_runs.append(run)
            _show(self.progress, run)
        for parallel in PARALLELISM:
            run = await pipeline_run(pipeline, data.messages, parallel)
            self.results.pipeline_runs.append(run)
            _show(self.progress, run)

    async def latency(self, pipeline: Pipeline) -> None:
        """Latency with the best (c) run's ingester count, at fractions of its rate."""
        peak = best(self.results.pipeline_runs)
        if peak is None:
            raise BenchError("no pipeline run to take the peak from")
        for load in LATENCY_LOADS:
            self.progress.say(
                f"latency at {load:.0%} of the peak {peak.rate:,.0f} samples/s"
                f" ({peak.parallel_label}), {self.settings.latency_seconds:g} s after a"
                f" {LATENCY_WARMUP_SECONDS:g} s warm-up"
            )
            latency = await latency_run(
                pipeline, load, load * peak.rate, peak.parallel, self.settings.latency_seconds
            )
            self.results.latencies.append(latency)
            for line in latency_lines(latency):
                self.progress.detail(line)

    async def breakdown(self, data: _Data) -> None:
        self.progress.say("ingester flush breakdown (in process, the ingester's own functions)")
        breakdown = await flush_breakdown(
            self.database.admin_url,
            self.database.app_url,
            data.messages,
            self.settings.breakdown_flushes,
            self.progress,
        )
        self.results.breakdown = breakdown
        for line in breakdown_lines(breakdown):
            self.progress.detail(line)

    async def run(self) -> Results:
        self.results.facts = machine_facts(self.database)
        for line in self.results.facts.lines():
            self.progress.detail(line)
        data = self.prepare()
        async with BenchPublisher(self.amqp_url) as publisher:
            self.describe(publisher)
            pipeline = Pipeline(self.database.admin_url, self.ingesters, publisher, self.progress)
            for number in range(1, self.settings.repeats + 1):
                self.progress.say(f"round {number} of {self.settings.repeats}")
                await self.one_round(data, pipeline)
            await self.latency(pipeline)
        await self.breakdown(data)
        return self.results


def run_bench(settings: BenchSettings) -> Results:
    """Everything `make bench` does; the database and vhost are gone when this returns."""
    progress = Progress()
    progress.say(
        f"iot bench: {settings.total_rows:,} rows per run, {settings.repeats} rounds of (a), (b)"
        f" and (c), latency {settings.latency_seconds:g} s"
    )
    with bench_vhost() as amqp_url:
        progress.say(f"vhost {amqp_url.rsplit('/', 1)[1]} created")
        try:
            with bench_database() as database:
                progress.say(f"database {database.name} created and migrated")
                try:
                    with tempfile.TemporaryDirectory(prefix="iot-bench-") as logs:
                        ingesters = Ingesters(amqp_url, database.app_url, Path(logs))
                        bench = _Bench(settings, database, amqp_url, ingesters, progress)
                        try:
                            results = asyncio.run(INTERRUPTS.guard(bench.run()))
                        finally:
                            ingesters.stop()
                finally:
                    progress.say(f"dropping database {database.name}")
        finally:
            progress.say("deleting the vhost")
    progress.say("cleaned up")
    for line in summary_lines(results):
        print(line, flush=True)
    return results
