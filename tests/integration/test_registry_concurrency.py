"""Registry replicas writing overlapping batches at once neither deadlock nor lose a report.

The handlers run in-process on a pool of their own (as iot_app), many at a time, each batch
holding the same sensors and commands in a different order: rows are locked in a fixed order
(commands by id, sensors by serial), so PostgreSQL never has to break a deadlock, and the
final rows are what the newest reports and the first outcomes say, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import asyncpg
import pytest
import structlog
from iot_service import ServiceMetrics
from sensor_registry.ack_decode import Ack
from sensor_registry.ack_store import AckStore
from sensor_registry.decode import Registration
from sensor_registry.expiry import sweep
from sensor_registry.heartbeat_decode import Heartbeat
from sensor_registry.heartbeat_store import HeartbeatStore
from sensor_registry.reports import Report
from sensor_registry.store import RegistrationStore

from tests.integration.control_plane import US, add_command, add_sensor, at, now_us
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import query

pytestmark = pytest.mark.integration

SENSORS = [f"conc-{i}" for i in range(8)]
COMMANDS_PER_SENSOR = 4
WRITERS = 12
ROUNDS = 4


def _acks(commands: dict[str, str], base_us: int) -> list[Ack]:
    """DELIVERED then APPLIED for every command; a sensor's later commands ack later."""
    acks = []
    for i, (command_id, serial) in enumerate(commands.items()):
        delivered = base_us + i * 1000
        for status, at_us in (("delivered", delivered), ("applied", delivered + 500)):
            report = Report(asleep=i % 2 == 0, sample_frequency_hz=float(i + 1), at_us=at_us)
            acks.append(Ack(uuid.UUID(command_id), serial, status, None, report))
    return acks


def _registrations(base_us: int) -> list[Registration]:
    # Sent before every report: they fill in metadata and must not change the reported state.
    return [
        Registration(serial, "accelerometer", 100.0, f"v{i}", "boot", None, "PASSED", base_us - i)
        for serial in SENSORS
        for i in range(1, 3)
    ]


def _heartbeats(base_us: int) -> list[Heartbeat]:
    return [
        Heartbeat(serial, 1.0 + j, Report(True, 5.0, base_us + j * 1000))
        for serial in SENSORS
        for j in range(COMMANDS_PER_SENSOR)
    ]


async def test_overlapping_batches_in_any_order_do_not_deadlock(database: TestDatabase) -> None:
    db = database.admin_url
    commands: dict[str, str] = {}
    for serial in SENSORS:
        add_sensor(db, serial)
        for _ in range(COMMANDS_PER_SENSOR):
            commands[add_command(db, serial, "sleep", expires_in=-120)] = serial
    base = now_us() - 60 * US
    acks = _acks(commands, base)
    beats = _heartbeats(base)
    rng = random.Random(7)
    pool = await asyncpg.create_pool(database.app_url, min_size=WRITERS, max_size=WRITERS)
    try:
        metrics, log = ServiceMetrics("test"), structlog.get_logger()
        ack_store, beat_store = AckStore(pool, metrics, log), HeartbeatStore(pool, metrics, log)
        register = RegistrationStore(pool, metrics, log)
        registrations = _registrations(base)

        async def expire() -> None:
            async with pool.acquire() as connection:
                await sweep(connection, 0.0)

        for _ in range(ROUNDS):
            work: list[Any] = [expire()]
            for _ in range(WRITERS):
                batch = rng.sample(acks, len(acks) // 2)
                work.append(ack_store(batch))
                work.append(beat_store(rng.sample(beats, len(beats) // 2)))
                work.append(register(rng.sample(registrations, len(registrations) // 2)))
            work.append(ack_store(acks[::-1]))
            # Every writer at once; a deadlock would surface here as DeadlockDetectedError.
            await asyncio.gather(*work)
    finally:
        await pool.close()

    outcomes = {
        str(row[0]): row[1:]
        for row in query(db, "SELECT id, status, acked_at, delivered_at FROM commands")
    }
    applied_at = {a.command_id: a.report.at_us for a in acks if a.status == "applied"}
    delivered_at = {a.command_id: a.report.at_us for a in acks if a.status == "delivered"}
    for command_id in commands:
        key = uuid.UUID(command_id)
        # A sensor outcome beats the sweep, however they interleaved; delivery is the
        # DELIVERED ack's time unless an outcome alone arrived first (both are acceptable).
        status, acked, delivered = outcomes[command_id]
        assert (status, acked) == ("applied", at(applied_at[key])), command_id
        assert delivered in (at(delivered_at[key]), at(applied_at[key])), command_id
    newest_beat = max(b.report.at_us for b in beats)
    rows = query(
        db,
        "SELECT serial_number, reported_at, last_heartbeat_at, firmware_version FROM sensors",
    )
    assert len(rows) == len(SENSORS)
    for serial, reported_at, heard_at, firmware in rows:
        assert firmware == "v1", "the newest registration's metadata"
        mine = [a.report.at_us for a in acks if a.serial == serial]
        assert reported_at == at(max([*mine, newest_beat])), serial
        assert heard_at == at(newest_beat), serial
