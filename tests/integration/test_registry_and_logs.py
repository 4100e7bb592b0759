"""sensor-registry and logs-ingester against the real broker and database."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
from iot_routing import heartbeat_key, logs_key, registry_key
from iot_service import ServiceMetrics
from sensor_registry.decode import Registration
from sensor_registry.store import RegistrationStore

from tests.control_messages import heartbeat_message
from tests.integration.control_plane import US, at, now_us, sensor
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import (
    Broker,
    Services,
    eventually,
    http_port,
    log_message,
    metric,
    query,
    registration_message,
)

pytestmark = pytest.mark.integration


def _registration(serial: str, version: str, sent_us: int) -> Registration:
    return Registration(serial, "accelerometer", 100.0, version, "boot", None, "PASSED", sent_us)


async def test_concurrent_duplicate_registrations_create_one_sensor(
    database: TestDatabase,
) -> None:
    """Twenty writers on twenty connections race to register the same sensor."""
    pool = await asyncpg.create_pool(database.app_url, min_size=20, max_size=20)
    try:
        store = RegistrationStore(pool, ServiceMetrics("test"), structlog.get_logger())
        base = time.time_ns() // 1000
        await asyncio.gather(
            *(store([_registration("race-1", f"v{i}", base + i)]) for i in range(20))
        )
    finally:
        await pool.close()
    rows = query(
        database.admin_url,
        "SELECT firmware_version FROM sensors WHERE serial_number = 'race-1'",
    )
    assert rows == [("v19",)], "one row, holding the newest registration's metadata"


async def test_registry_keeps_first_registration_time_and_newest_metadata(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    base = time.time_ns() // 1000
    # Out of order on purpose: a stale registration arriving last must not win.
    messages = [
        registration_message("reg-1", 100.0, "v2", base + 2),
        registration_message("reg-1", 100.0, "v3", base + 3),
        registration_message("reg-1", 50.0, "v1", base + 1),
        registration_message("reg-2", 10.0, "v1", base + 1),
    ]
    services.start("sensor-registry")
    services.start("sensor-registry")
    async with Broker(amqp_url) as broker:
        await broker.publish_all(
            (registry_key("reg-1" if i < 3 else "reg-2"), body) for i, body in enumerate(messages)
        )

        async def both_registered() -> list[tuple[object, ...]]:
            return query(
                database.admin_url,
                "SELECT serial_number, firmware_version, sample_frequency_hz FROM sensors"
                " WHERE serial_number LIKE 'reg-%%' ORDER BY 1",
            )

        async def settled() -> list[tuple[object, ...]] | None:
            rows = await both_registered()
            return rows if rows == [("reg-1", "v3", 100.0), ("reg-2", "v1", 10.0)] else None

        await eventually(settled, 30, "both sensors with their newest metadata")
        registered_at = query(
            database.admin_url,
            "SELECT registered_at FROM sensors WHERE serial_number = 'reg-1'",
        )
        await broker.publish(
            registry_key("reg-1"), registration_message("reg-1", 1.0, "v9", base + 9)
        )
        await eventually(
            lambda: _firmware(database, "reg-1", "v9"), 30, "the re-registration to apply"
        )
    assert (
        query(database.admin_url, "SELECT registered_at FROM sensors WHERE serial_number = 'reg-1'")
        == registered_at
    )


async def _firmware(database: TestDatabase, serial: str, version: str) -> bool:
    rows = query(
        database.admin_url,
        "SELECT firmware_version FROM sensors WHERE serial_number = %s",
        serial,
    )
    return rows == [(version,)]


async def test_logs_are_stored_once_and_written_as_logfmt(
    amqp_url: str, database: TestDatabase, services: Services, tmp_path: Path
) -> None:
    logs_file = tmp_path / "sensors.log"
    base = time.time_ns() // 1000
    lines = [
        log_message("log-1", base + 1, base, "System powering on"),
        log_message("log-1", base + 2, base + 10, 'Self-test result: "PASSED"'),
    ]
    ingester = services.start("logs-ingester", IOT_LOGS_FILE=str(logs_file))
    port = http_port(ingester)
    async with Broker(amqp_url) as broker:
        # Every line twice: redelivery must not duplicate rows.
        await broker.publish_all((logs_key("log-1"), body) for body in lines + lines)

        async def processed() -> bool:
            return metric(port, "iot_messages_processed_total") >= 4

        await eventually(processed, 30, "four log messages processed")
    rows = query(
        database.admin_url,
        "SELECT l.level, l.message FROM sensor_logs l JOIN sensors s ON s.id = l.sensor_id"
        " WHERE s.serial_number = 'log-1' ORDER BY l.time",
    )
    assert rows == [("info", "System powering on"), ("info", 'Self-test result: "PASSED"')]
    text = logs_file.read_text()
    assert len(text.splitlines()) == 2, "each line once in the file too"
    assert 'logger=log-1 level=info message="System powering on"' in text
    assert 'message="Self-test result: \\"PASSED\\""' in text


async def test_logs_of_a_deleted_and_returning_sensor_go_to_its_new_row(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    base = now_us()
    ingester = services.start("logs-ingester")
    port = http_port(ingester)
    async with Broker(amqp_url) as broker:
        await broker.publish(logs_key("log-gone"), log_message("log-gone", 1, base, "before"))

        async def processed(count: int) -> bool:
            return metric(port, "iot_messages_processed_total") >= count

        await eventually(lambda: processed(1), 30, "the first line stored")
        # What DELETE /api/v1/sensors/{serial} does; the ingester still caches the old id.
        query(
            database.admin_url, "DELETE FROM sensors WHERE serial_number = 'log-gone' RETURNING id"
        )
        await broker.publish(logs_key("log-gone"), log_message("log-gone", 2, base + 1, "after"))
        await eventually(lambda: processed(2), 30, "the second line stored")
    rows = query(
        database.admin_url,
        "SELECT l.message FROM sensor_logs l JOIN sensors s ON s.id = l.sensor_id"
        " WHERE s.serial_number = 'log-gone'",
    )
    assert rows == [("after",)], "the returning sensor's line is stored under its new row"
    orphans = query(
        database.admin_url,
        "SELECT count(*) FROM sensor_logs WHERE sensor_id NOT IN (SELECT id FROM sensors)",
    )
    assert orphans == [(1,)], "only the deleted sensor's old line is left (until retention)"


async def test_a_registration_reports_state_only_when_newer_than_the_last_report(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    t1 = now_us() - 10 * US
    t2, t3, t4 = t1 + US, t1 + 2 * US, t1 + 3 * US
    db = database.admin_url
    services.start("sensor-registry")
    async with Broker(amqp_url) as broker:
        await broker.publish(registry_key("rep-1"), registration_message("rep-1", 100.0, "v1", t1))
        created = await eventually(lambda: _reported(db, "rep-1", at(t1)), 30, "registration")
        assert (created["reported_asleep"], created["sample_frequency_hz"]) == (False, 100.0)

        # The sensor fell asleep at 20 Hz (reported at t3)...
        await broker.publish(
            heartbeat_key("rep-1"),
            heartbeat_message("rep-1", t3, asleep=True, frequency=20.0),
        )
        await eventually(lambda: _reported(db, "rep-1", at(t3)), 30, "the heartbeat's report")
        # ...so a registration sent before that (at t2) updates metadata but not the state.
        await broker.publish(registry_key("rep-1"), registration_message("rep-1", 50.0, "v2", t2))
        await eventually(lambda: _firmware(database, "rep-1", "v2"), 30, "v2's metadata")
        stale = sensor(db, "rep-1")
        assert (stale["reported_asleep"], stale["sample_frequency_hz"]) == (True, 20.0)
        assert stale["reported_at"] == at(t3)

        # A registration after it (a reboot at t4) is the newest report: awake, at its frequency.
        await broker.publish(registry_key("rep-1"), registration_message("rep-1", 100.0, "v4", t4))
        rebooted = await eventually(lambda: _reported(db, "rep-1", at(t4)), 30, "the reboot")
    assert (rebooted["reported_asleep"], rebooted["sample_frequency_hz"]) == (False, 100.0)
    assert rebooted["firmware_version"] == "v4"


async def _reported(db: str, serial: str, when: datetime) -> dict[str, Any] | None:
    rows = query(db, "SELECT 1 FROM sensors WHERE serial_number = %s", serial)
    if not rows:
        return None
    row = sensor(db, serial)
    return row if row["reported_at"] == when else None
