"""measurements-ingester against the real broker and database: exactly-once under failure."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_routing import MEASUREMENTS_DB_WRITER, measurements_key

from tests.integration.amqp_fixtures import vhost_of
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import (
    Broker,
    Services,
    batch_message,
    eventually,
    http_get,
    http_port,
    metric,
    query,
    scalar,
    synthetic_values,
)
from tests.support import rabbitmqctl

pytestmark = pytest.mark.integration


def _dead_letter_queue() -> str:
    dead = MEASUREMENTS_DB_WRITER.dead_letter
    assert dead is not None
    return dead.name


DEAD_LETTERS = _dead_letter_queue()


def _now_us() -> int:
    return time.time_ns() // 1000


def _stream(serial: str, rate: float, batches: int, per_batch: int, seed: int) -> list[bytes]:
    """Contiguous batches: batch k starts where batch k-1 ended."""
    start = _now_us() - 3_600_000_000
    step_us = per_batch * 1e6 / rate
    return [
        batch_message(
            serial, k + 1, start + round(k * step_us), rate, synthetic_values(seed + k, per_batch)
        )
        for k in range(batches)
    ]


def _expected(bodies: list[bytes]) -> tuple[int, float]:
    batches = [MeasurementBatch.FromString(b) for b in bodies]
    return sum(len(b.samples) for b in batches), sum(sum(b.samples) for b in batches)


def _stored(database: TestDatabase, serial: str) -> tuple[int, float, int]:
    """(rows, sum of values, distinct sample times) stored for one sensor."""
    count, total, distinct = query(
        database.admin_url,
        """SELECT count(*), coalesce(sum(m.value), 0), count(DISTINCT m.time)
           FROM measurements m JOIN sensors s ON s.id = m.sensor_id
           WHERE s.serial_number = %s""",
        serial,
    )[0]
    return int(count), float(total), int(distinct)


def _assert_stored_exactly_once(database: TestDatabase, serial: str, bodies: list[bytes]) -> None:
    """Every published sample stored once: count, distinct sample times and checksum."""
    rows, checksum = _expected(bodies)
    count, total, distinct = _stored(database, serial)
    assert (count, distinct) == (rows, rows), serial
    assert total == pytest.approx(checksum, rel=1e-12, abs=1e-9), serial


async def _rows_reach(database: TestDatabase, serial: str, rows: int, timeout: float) -> None:
    async def probe() -> bool:
        return _stored(database, serial)[0] >= rows

    await eventually(probe, timeout, f"{rows} rows for {serial}")


async def test_three_sensors_at_different_rates_are_stored_exactly_once(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    streams = {
        "slow-1hz": _stream("slow-1hz", 1.0, 40, 1, seed=100),
        "mid-100hz": _stream("mid-100hz", 100.0, 40, 10, seed=200),
        "fast-25khz": _stream("fast-25khz", 25_000.0, 40, 2500, seed=300),
    }
    # Two competing ingesters share the queue.
    services.start("measurements-ingester")
    services.start("measurements-ingester")
    async with Broker(amqp_url) as broker:
        await broker.publish_all(
            (measurements_key(serial), body)
            for serial, bodies in streams.items()
            for body in bodies
        )
        for serial, bodies in streams.items():
            rows, _ = _expected(bodies)
            await _rows_reach(database, serial, rows, timeout=60)
    for serial, bodies in streams.items():
        _assert_stored_exactly_once(database, serial, bodies)
    assert scalar(database.admin_url, "SELECT count(*) FROM measurement_batches") == 120


async def test_the_same_batch_delivered_again_creates_no_duplicates(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    body = _stream("dup-1", 100.0, 1, 500, seed=1)[0]
    async with Broker(amqp_url) as broker:
        # Three copies in one delivery run (a sensor republishing after a lost confirm)...
        await broker.publish_all([(measurements_key("dup-1"), body)] * 3)
        ingester = services.start("measurements-ingester")
        port = http_port(ingester)

        async def processed(n: int) -> bool:
            return metric(port, "iot_messages_processed_total") >= n

        await eventually(lambda: processed(3), 30, "three copies processed")
        # ...and one more long after the first was committed.
        await broker.publish(measurements_key("dup-1"), body)
        await eventually(lambda: processed(4), 30, "the late copy processed")
        assert await broker.depth(MEASUREMENTS_DB_WRITER) == 0
    count, total, _ = _stored(database, "dup-1")
    assert count == 500
    assert total == pytest.approx(_expected([body])[1])
    assert metric(port, "iot_duplicate_batches_total") == 3


async def test_garbage_is_dead_lettered_and_everything_else_is_stored(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    known = _stream("known-1", 50.0, 5, 50, seed=7)
    unknown = _stream("never-registered", 50.0, 5, 50, seed=8)
    garbage = b"\xff\x00 definitely not protobuf \x13\x37"
    zero_rate = MeasurementBatch.FromString(unknown[0])
    zero_rate.sample_rate_hz = 0
    services.start("measurements-ingester")
    async with Broker(amqp_url) as broker:
        await broker.publish_all(
            [(measurements_key("known-1"), b) for b in known[:3]]
            + [(measurements_key("bad-1"), garbage)]
            + [(measurements_key("never-registered"), b) for b in unknown]
            + [(measurements_key("bad-2"), zero_rate.SerializeToString())]
            + [(measurements_key("known-1"), b) for b in known[3:]]
        )
        await _rows_reach(database, "known-1", 250, timeout=30)
        await _rows_reach(database, "never-registered", 250, timeout=30)

        async def two_dead_letters() -> list[bytes] | None:
            return None if await broker.depth(DEAD_LETTERS) < 2 else [b""]

        await eventually(two_dead_letters, 30, "two dead-lettered messages")
        dead = await broker.take_all(DEAD_LETTERS)
    assert sorted(dead) == sorted([garbage, zero_rate.SerializeToString()])
    assert _stored(database, "known-1")[0] == 250
    assert _stored(database, "never-registered")[0] == 250
    assert (
        scalar(
            database.admin_url,
            "SELECT count(*) FROM sensors WHERE serial_number IN ('bad-1', 'bad-2')",
        )
        == 0
    )


async def test_ingester_killed_mid_stream_loses_and_duplicates_nothing(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    bodies = _stream("crashy-1", 10_000.0, 300, 1000, seed=11)
    rows = _expected(bodies)[0]
    first = services.start("measurements-ingester", IOT_MAX_BATCH_SAMPLES="5000")
    async with Broker(amqp_url) as broker:

        async def sensor_stream() -> None:
            # Like a live sensor: a few batches at a time, so the kill lands mid-stream.
            for k in range(0, len(bodies), 5):
                await broker.publish_all(
                    (measurements_key("crashy-1"), b) for b in bodies[k : k + 5]
                )
                await asyncio.sleep(0.05)

        publishing = asyncio.create_task(sensor_stream())
        await _rows_reach(database, "crashy-1", rows // 10, timeout=60)
        first.kill()  # SIGKILL: whatever was in flight is neither committed nor acked
        assert not publishing.done(), "the kill came too late to test anything"
        services.start("measurements-ingester")
        await publishing
        await _rows_reach(database, "crashy-1", rows, timeout=90)
        await eventually(lambda: _queue_empty(broker), 30, "the queue to drain after the restart")
    _assert_stored_exactly_once(database, "crashy-1", bodies)


async def _queue_empty(broker: Broker) -> bool:
    return await broker.depth(MEASUREMENTS_DB_WRITER) == 0


def _lock_out(database: TestDatabase) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        admin.execute(f'REVOKE CONNECT ON DATABASE "{database.name}" FROM PUBLIC, iot_app')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND usename = 'iot_app'",
            (database.name,),
        )


def _let_in(database: TestDatabase) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        admin.execute(f'GRANT CONNECT ON DATABASE "{database.name}" TO iot_app')


async def test_database_outage_stops_consumption_and_loses_nothing(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    bodies = _stream("outage-1", 1000.0, 200, 500, seed=21)
    rows = _expected(bodies)[0]
    ingester = services.start("measurements-ingester")
    port = http_port(ingester)
    async with Broker(amqp_url) as broker:
        await broker.publish_all((measurements_key("outage-1"), b) for b in bodies[:50])
        await _rows_reach(database, "outage-1", 50 * 500, timeout=30)
        _lock_out(database)
        try:
            await broker.publish_all((measurements_key("outage-1"), b) for b in bodies[50:])

            async def not_ready() -> bool:
                return http_get(port, "/readyz")[0] == 503

            await eventually(not_ready, 30, "readiness to report the outage")
            # Held, not dropped: ~10 s without the database, the batches stay in RabbitMQ.
            outage_ends = time.monotonic() + 10
            while time.monotonic() < outage_ends:
                assert ingester.running()
                await asyncio.sleep(0.5)
            assert _stored(database, "outage-1")[0] == 50 * 500
            assert await broker.depth(DEAD_LETTERS) == 0
        finally:
            _let_in(database)
        await _rows_reach(database, "outage-1", rows, timeout=60)

        async def ready() -> bool:
            return http_get(port, "/readyz")[0] == 200

        await eventually(ready, 30, "readiness after the outage")
        assert await broker.depth(DEAD_LETTERS) == 0
    _assert_stored_exactly_once(database, "outage-1", bodies)


async def test_sigterm_flushes_and_exits_cleanly(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    bodies = _stream("term-1", 100.0, 20, 100, seed=31)
    # A long batch delay keeps messages pending in the ingester when SIGTERM arrives.
    ingester = services.start("measurements-ingester", IOT_MAX_BATCH_DELAY_SECONDS="30")
    port = http_port(ingester)
    async with Broker(amqp_url) as broker:
        await broker.publish_all((measurements_key("term-1"), b) for b in bodies)

        async def all_received() -> bool:
            return metric(port, "iot_messages_received_total") >= 20

        await eventually(all_received, 30, "all messages delivered to the ingester")
        assert _stored(database, "term-1")[0] == 0
        assert ingester.stop(timeout=20) == 0
        assert _stored(database, "term-1")[0] == 2000
        assert await broker.depth(MEASUREMENTS_DB_WRITER) == 0


async def test_ingester_reconnects_after_losing_the_broker(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    """The broker throws every connection of the vhost out and refuses new ones for a while."""
    bodies = _stream("reconnect-1", 1000.0, 100, 500, seed=41)
    rows = _expected(bodies)[0]
    vhost = vhost_of(amqp_url)
    ingester = services.start("measurements-ingester")
    port = http_port(ingester)
    async with Broker(amqp_url) as broker:
        await broker.publish_all((measurements_key("reconnect-1"), b) for b in bodies[:50])
        await _rows_reach(database, "reconnect-1", 50 * 500, timeout=30)
    rabbitmqctl("clear_permissions", "-p", vhost, "guest")
    try:
        rabbitmqctl("close_all_connections", "-p", vhost, "test: broker outage")

        async def amqp_not_ready() -> bool:
            status, body = http_get(port, "/readyz")
            return status == 503 and "amqp" in body

        await eventually(amqp_not_ready, 30, "readiness to report the lost broker")
        assert ingester.running()
    finally:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    async with Broker(amqp_url) as broker:
        await broker.publish_all((measurements_key("reconnect-1"), b) for b in bodies[50:])
        await _rows_reach(database, "reconnect-1", rows, timeout=60)
    _assert_stored_exactly_once(database, "reconnect-1", bodies)


async def test_a_backlog_is_written_in_batches_no_larger_than_the_limit(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    """Messages queued before the ingester starts arrive all at once, up to the prefetch."""
    bodies = _stream("backlog-1", 10_000.0, 100, 1000, seed=51)
    async with Broker(amqp_url) as broker:
        await broker.publish_all((measurements_key("backlog-1"), b) for b in bodies)
    ingester = services.start(
        "measurements-ingester", IOT_MAX_BATCH_SAMPLES="5000", IOT_PREFETCH="100"
    )
    port = http_port(ingester)
    await _rows_reach(database, "backlog-1", 100_000, timeout=60)
    name = "iot_batch_size"
    flushes = metric(port, f"{name}_count")
    within_limit = metric(port, f"{name}_bucket", le="5000.0", queue=MEASUREMENTS_DB_WRITER.name)
    assert flushes >= 20
    assert within_limit == flushes
