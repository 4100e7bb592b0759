"""The rows every phase writes, prepared before any timing starts.

The same batches feed all three phases: as COPY buffers for (a), as pre-encoded unnest arrays
for (b) and as protobuf MeasurementBatch bodies for (c). Batches are interleaved across
sensors in the order sensors would send them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
from iot_routing import measurements_key
from iot_storage.copy import (
    POSTGRES_EPOCH_UNIX_US,
    SampleRun,
    encode_measurements,
    sample_times_us,
)

from tests.bench.pgarrays import Float8Array, Int4Array, TimestamptzArray
from tests.bench.settings import BATCH_INTERVAL_US, SAMPLE_RATE_HZ, SAMPLES_PER_BATCH
from tests.messages import batch_message

# Sample times start this long before the run, inside the partitions migrations created.
DATA_STARTS_BEFORE_US = 600_000_000


@dataclass(frozen=True)
class Batch:
    """One sensor's 100 ms of samples: what one pipeline message carries."""

    serial: str
    sensor_id: int
    sequence: int
    first_time_us: int
    values: npt.NDArray[np.float64]

    def run(self) -> SampleRun:
        return SampleRun(self.sensor_id, self.first_time_us, SAMPLE_RATE_HZ, self.values)


@dataclass(frozen=True)
class Message:
    """A pre-built pipeline message and the ledger key it will be stored under."""

    routing_key: str
    body: bytes
    sensor_id: int
    sequence: int
    samples: int


@dataclass(frozen=True)
class CopyChunk:
    """Binary COPY data of some rows."""

    data: memoryview
    rows: int


@dataclass(frozen=True)
class UnnestSlice:
    """The three unnest() arrays of one statement of baseline (b)."""

    times: TimestamptzArray
    sensor_ids: Int4Array
    values: Float8Array
    rows: int


def serial(index: int) -> str:
    """Serial number of the bench's sensor number index."""
    return f"bench-{index:03d}"


def register_sensors(admin_url: str, count: int) -> list[int]:
    """Ids of sensors bench-000 .. bench-<count-1>, registered as the registry would."""
    serials = [serial(i) for i in range(count)]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sensors (serial_number, sample_frequency_hz)"
            " SELECT unnest(%s::text[]), %s ON CONFLICT (serial_number) DO NOTHING",
            (serials, SAMPLE_RATE_HZ),
        )
        ids: dict[str, int] = dict(
            conn.execute(
                "SELECT serial_number, id FROM sensors WHERE serial_number = ANY(%s)", (serials,)
            ).fetchall()
        )
    return [int(ids[s]) for s in serials]


def build_batches(sensor_ids: Sequence[int], count: int, seed: int = 1) -> list[Batch]:
    """count batches, round-robin over the sensors; each sensor's sequences start at 1 and its
    batches are contiguous in time."""
    start_us = (time.time_ns() // 1000 - DATA_STARTS_BEFORE_US) // 100_000 * 100_000
    values = np.random.default_rng(seed).normal(size=(count, SAMPLES_PER_BATCH))
    batches = []
    for k in range(count):
        index, round_ = k % len(sensor_ids), k // len(sensor_ids)
        batches.append(
            Batch(
                serial=serial(index),
                sensor_id=sensor_ids[index],
                sequence=round_ + 1,
                first_time_us=start_us + round_ * BATCH_INTERVAL_US,
                values=values[k],
            )
        )
    return batches


def build_messages(batches: Sequence[Batch]) -> list[Message]:
    """Real MeasurementBatch protobuf bodies, as the sensor simulator would send them."""
    return [
        Message(
            routing_key=measurements_key(b.serial),
            body=batch_message(
                b.serial, b.sequence, b.first_time_us, SAMPLE_RATE_HZ, b.values.tolist()
            ),
            sensor_id=b.sensor_id,
            sequence=b.sequence,
            samples=len(b.values),
        )
        for b in batches
    ]


def build_copy_chunks(batches: Sequence[Batch], rows_per_chunk: int) -> list[CopyChunk]:
    """COPY buffers of whole batches, about rows_per_chunk rows each (one ingester flush)."""
    per_chunk = max(1, rows_per_chunk // SAMPLES_PER_BATCH)
    chunks = []
    for start in range(0, len(batches), per_chunk):
        runs = [b.run() for b in batches[start : start + per_chunk]]
        chunks.append(CopyChunk(encode_measurements(runs), sum(len(r.values) for r in runs)))
    return chunks


def build_unnest_slices(batches: Sequence[Batch], rows_per_slice: int) -> list[UnnestSlice]:
    """The rows cut into slices of rows_per_slice, each as three binary arrays."""
    times = np.concatenate(
        [sample_times_us(b.first_time_us, SAMPLE_RATE_HZ, len(b.values)) for b in batches]
    )
    sensor_ids = np.concatenate(
        [np.full(len(b.values), b.sensor_id, dtype=np.int32) for b in batches]
    )
    values = np.concatenate([b.values for b in batches])
    slices = []
    for start in range(0, len(values), rows_per_slice):
        end = min(start + rows_per_slice, len(values))
        slices.append(
            UnnestSlice(
                times=TimestamptzArray.of(times[start:end] - POSTGRES_EPOCH_UNIX_US),
                sensor_ids=Int4Array.of(sensor_ids[start:end]),
                values=Float8Array.of(values[start:end]),
                rows=end - start,
            )
        )
    return slices
