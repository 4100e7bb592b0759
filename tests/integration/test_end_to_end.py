"""All four services and three real simulators: every published sample stored exactly once."""

from __future__ import annotations

from collections import defaultdict

import pytest
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_routing import EXCHANGE, MEASUREMENTS_DB_WRITER

from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import Broker, Services, eventually, query

pytestmark = pytest.mark.integration

SENSORS = {"e2e-1hz": "1", "e2e-200hz": "200", "e2e-5khz": "5000"}
# A test-only queue that sees every batch the simulators publish, to compare with the database.
TAP = "test.all.measurements.tap"


async def test_three_simulated_sensors_end_to_end(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    async with Broker(amqp_url) as broker:
        await broker.channel.queue_declare(TAP, durable=False)
        for key in MEASUREMENTS_DB_WRITER.bindings:
            await broker.channel.queue_bind(TAP, EXCHANGE.name, routing_key=key)
        for script in ("sensor-registry", "measurements-ingester", "logs-ingester"):
            services.start(script)
        simulators = [
            services.start("sensor-simulator", IOT_SENSOR_SERIAL=serial, IOT_SAMPLE_FREQUENCY_HZ=hz)
            for serial, hz in SENSORS.items()
        ]

        async def every_sensor_streaming() -> bool:
            rows = query(
                database.admin_url,
                "SELECT count(DISTINCT sensor_id) FROM measurement_batches",
            )
            return bool(rows[0][0] == len(SENSORS))

        await eventually(every_sensor_streaming, 60, "all three sensors' data in the database")
        for simulator in simulators:
            assert simulator.stop(timeout=15) == 0
        published: dict[str, list[float]] = defaultdict(list)
        for body in await broker.take_all(TAP):
            batch = MeasurementBatch.FromString(body)
            published[batch.serial_number].extend(batch.samples)
        assert set(published) == set(SENSORS)

        async def all_stored() -> bool:
            return _stored(database) == {s: len(v) for s, v in published.items()}

        await eventually(all_stored, 60, "every published sample in the database")
    checksums = dict(
        query(
            database.admin_url,
            "SELECT s.serial_number, sum(m.value) FROM measurements m"
            " JOIN sensors s ON s.id = m.sensor_id GROUP BY 1",
        )
    )
    for serial, values in published.items():
        assert checksums[serial] == pytest.approx(sum(values), abs=1e-6), serial
    sensors = query(
        database.admin_url,
        "SELECT serial_number, kind, sample_frequency_hz, self_test FROM sensors ORDER BY 1",
    )
    assert sensors == sorted(
        (serial, "accelerometer", float(hz), "PASSED") for serial, hz in SENSORS.items()
    )
    boot_lines = query(
        database.admin_url,
        "SELECT count(*) FROM sensor_logs WHERE message = 'System powering on'",
    )
    assert boot_lines == [(len(SENSORS),)]


def _stored(database: TestDatabase) -> dict[str, int]:
    rows = query(
        database.admin_url,
        "SELECT s.serial_number, count(*), count(DISTINCT m.time) FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id GROUP BY 1",
    )
    assert all(count == distinct for _, count, distinct in rows), "duplicate sample times"
    return {serial: count for serial, count, _ in rows}
