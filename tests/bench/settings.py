"""Sizes, addresses and fixed parameters of one benchmark run."""

from __future__ import annotations

import os
from dataclasses import dataclass

# The sensors of the benchmark: 25 kHz accelerometers sending one batch per 100 ms.
SAMPLE_RATE_HZ = 25_000.0
SAMPLES_PER_BATCH = 2_500
BATCH_INTERVAL_US = round(SAMPLES_PER_BATCH * 1e6 / SAMPLE_RATE_HZ)
THROUGHPUT_SENSORS = 8

# (a) COPY chunks match what one ingester flush writes (IOT_MAX_BATCH_SAMPLES default).
COPY_CHUNK_ROWS = 50_000
# (b) the Go original wrote slices of this many rows, one statement each.
GO_SLICE_ROWS = 25_000

# Latency is measured at this fraction of the best pipeline rate.
# Latency is measured at these fractions of the peak; the goal is stated for 0.8.
LATENCY_LOADS = (0.5, 0.65, 0.8)
LATENCY_GOAL_LOAD = 0.8
LATENCY_WARMUP_SECONDS = 1.0
LATENCY_POLL_SECONDS = 0.005
THROUGHPUT_POLL_SECONDS = 0.02
PUBLISH_WINDOW = 100  # unconfirmed messages in flight while publishing at full speed

# A run during which other processes kept this many cores busy is marked as disturbed.
DISTURBED_OTHER_CORES = 0.25

# The goals.
GOAL_COPY_RATIO = 0.7
GOAL_GO_RATIO = 2.0
GOAL_P99_MS = 250.0

# The server's maintenance database as a superuser; the bench database is made from it.
ADMIN_URL = os.environ.get("IOT_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The broker; the bench vhost is added to the end of this URL.
AMQP_SERVER_URL = os.environ.get("IOT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


@dataclass(frozen=True)
class BenchSettings:
    """What a run may be told from the command line."""

    rows: int = 2_000_000
    repeats: int = 2
    latency_seconds: float = 10.0
    breakdown_flushes: int = 5

    @property
    def batches(self) -> int:
        """Pipeline messages per throughput run (whole batches, at least one per sensor)."""
        return max(THROUGHPUT_SENSORS, round(self.rows / SAMPLES_PER_BATCH))

    @property
    def total_rows(self) -> int:
        """Rows every phase moves: the same rows for (a), (b) and (c)."""
        return self.batches * SAMPLES_PER_BATCH
