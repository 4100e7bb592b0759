"""Helpers for the control-plane tests: sensors, commands and telemetry rows, per-queue metrics."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from iot_routing import QueueSpec
from psycopg.rows import dict_row

from tests.integration.pipeline import execute, query

US = 1_000_000


def now_us() -> int:
    return time.time_ns() // 1000


def at(us: int) -> datetime:
    """The timestamptz PostgreSQL stores for a sensor time in microseconds."""
    return datetime.fromtimestamp(us // US, UTC).replace(microsecond=us % US)


def add_sensor(url: str, serial: str, frequency: float = 100.0) -> int:
    """A sensor row as the ingester creates it (no registration, no report yet); its id."""
    rows = query(
        url,
        "INSERT INTO sensors (serial_number, sample_frequency_hz) VALUES (%s, %s) RETURNING id",
        serial,
        frequency,
    )
    return int(rows[0][0])


def seed_telemetry(url: str, sensor_id: int, start: datetime) -> None:
    """100 samples (values 0..99, 10 per second from start) and two log lines (info, error)."""
    for statement, params in [
        (
            "INSERT INTO measurements (time, sensor_id, value) "
            "SELECT %s + n * interval '100 milliseconds', %s, n FROM generate_series(0, 99) n",
            (start, sensor_id),
        ),
        (
            "INSERT INTO sensor_logs (time, sensor_id, sequence, level, message) VALUES "
            "(%s, %s, 1, 'info', 'System powering on'), (%s, %s, 2, 'error', 'overheated')",
            (start, sensor_id, start + timedelta(seconds=1), sensor_id),
        ),
    ]:
        execute(url, statement, *params)


def add_command(
    url: str,
    serial: str,
    action: str = "sleep",
    *,
    expires_in: float = 600.0,
    status: str = "pending",
    frequency: float | None = None,
) -> str:
    """A commands row as the gateway records it; its id. expires_in < 0: already overdue."""
    command_id = str(uuid.uuid4())
    issued_offset = min(0.0, expires_in) - 60.0  # issued_at before expires_at, as CHECKed
    query(
        url,
        "INSERT INTO commands (id, request_id, sensor_id, action, sample_frequency_hz, status,"
        " issued_by, issued_at, expires_at)"
        " SELECT %s, %s, id, %s, %s, %s, 'test', now() + %s * interval '1 second',"
        "        now() + %s * interval '1 second'"
        " FROM sensors WHERE serial_number = %s RETURNING id",
        command_id,
        str(uuid.uuid4()),
        action,
        frequency,
        status,
        issued_offset,
        expires_in,
        serial,
    )
    return command_id


def command(url: str, command_id: str) -> dict[str, Any]:
    """The commands row, with xmin (its row version) to tell whether anything wrote it."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as connection:
        row = connection.execute(
            "SELECT *, xmin::text AS version FROM commands WHERE id = %s", (command_id,)
        ).fetchone()
    assert row is not None, command_id
    return row


def sensor(url: str, serial: str) -> dict[str, Any]:
    """The sensor's reported state, presence and metadata (timestamps that may be '-infinity'
    as text, which Python's datetime cannot hold)."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as connection:
        row = connection.execute(
            "SELECT kind, firmware_version, sample_frequency_hz, reported_asleep,"
            " nullif(reported_at, '-infinity') AS reported_at, last_heartbeat_at,"
            " heartbeat_interval_s, nullif(metadata_updated_at, '-infinity') AS metadata_at,"
            " xmin::text AS version"
            " FROM sensors WHERE serial_number = %s",
            (serial,),
        ).fetchone()
    assert row is not None, serial
    return row


def dead_letter_of(queue: QueueSpec) -> str:
    """The name of the queue's dead-letter queue."""
    dead_letter = queue.dead_letter
    assert dead_letter is not None, queue.name
    return dead_letter.name
