"""The binary COPY encoder produces exactly PostgreSQL's format, sample times exact."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import numpy as np
from iot_storage.copy import HEADER, TRAILER, SampleRun, encode_measurements, sample_times_us

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _decode(data: bytes) -> list[tuple[datetime, int, float]]:
    """An independent, slow reader of binary COPY rows (time, int4, float8)."""
    assert data.startswith(HEADER) and data.endswith(TRAILER)
    body, rows = data[len(HEADER) : -len(TRAILER)], []
    offset = 0
    while offset < len(body):
        fields, l1, micros, l2, sensor, l3, value = struct.unpack_from("!hiqiiid", body, offset)
        assert (fields, l1, l2, l3) == (3, 8, 4, 8)
        rows.append((PG_EPOCH + timedelta(microseconds=micros), sensor, value))
        offset += struct.calcsize("!hiqiiid")
    return rows


def test_rows_round_trip_through_the_copy_format() -> None:
    first = int(datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp() * 1e6)
    runs = [
        SampleRun(7, first, 4.0, np.array([1.5, -2.25, 3.0])),
        SampleRun(9, first + 1, 25_000.0, np.array([0.0, float("nan")])),
    ]
    rows = _decode(bytes(encode_measurements(runs)))
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert rows[:3] == [
        (start, 7, 1.5),
        (start + timedelta(milliseconds=250), 7, -2.25),
        (start + timedelta(milliseconds=500), 7, 3.0),
    ]
    assert rows[3][:2] == (start + timedelta(microseconds=1), 9)
    assert rows[4][0] == start + timedelta(microseconds=41)
    assert np.isnan(rows[4][2])


def test_an_empty_run_list_is_a_valid_empty_copy() -> None:
    assert bytes(encode_measurements([])) == HEADER + TRAILER


def test_sample_times_do_not_drift_over_an_hour_at_25khz() -> None:
    times = sample_times_us(0, 25_000.0, 25_000 * 3600)
    assert times[-1] == (25_000 * 3600 - 1) * 40
    assert np.all(np.diff(times) == 40)
