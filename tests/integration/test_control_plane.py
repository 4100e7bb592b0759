"""The control plane end to end, with every process real: an operator's command goes from the
HTTP API through RabbitMQ to a running simulated sensor, whose acknowledgement comes back through
the sensor-registry; its effect is checked in the rows the measurements-ingester stores."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import Services, scalar
from tests.support import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

SERIAL = "cp-sensor-1"
# Time for batches already in flight when a sleep is applied to be stored (flush 0.1 s, ingest
# a few ms), and then for samples that must not come.
SETTLE_SECONDS = 1.0
QUIET_SECONDS = 1.5


def stored(database: TestDatabase, since: datetime | None = None) -> int:
    return int(
        scalar(
            database.admin_url,
            "SELECT count(*) FROM measurements m JOIN sensors s ON s.id = m.sensor_id "
            "WHERE s.serial_number = %s AND m.time >= %s",
            SERIAL,
            since or datetime(2000, 1, 1, tzinfo=UTC),
        )
    )


def send(api: httpx.Client, action: str, **fields: object) -> str:
    reply = api.post("/commands", json={"action": action, "serial_number": SERIAL, **fields})
    assert reply.status_code == 202, reply.text
    return str(reply.json()["commands"][0]["command_id"])


def wait_final(api: httpx.Client, command_id: str, timeout: float = 30.0) -> dict[str, object]:
    def final() -> dict[str, object] | None:
        command: dict[str, object] = api.get(f"/commands/{command_id}").json()
        return command if command["status"] not in ("pending", "delivered") else None

    return wait_until(final, timeout, f"command {command_id} to finish")


def start_sensor(services: Services, hz: str = "100") -> ServiceProcess:
    return services.start(
        "sensor-simulator",
        IOT_SENSOR_SERIAL=SERIAL,
        IOT_SAMPLE_FREQUENCY_HZ=hz,
        IOT_HEARTBEAT_SECONDS="1",
    )


def test_sleep_frequency_change_and_awake_reach_a_running_sensor(
    services: Services, database: TestDatabase, gateway: Gateway
) -> None:
    services.start("sensor-registry")
    services.start("measurements-ingester")
    start_sensor(services)
    api = gateway.client("operator")
    wait_until(lambda: stored(database) > 100, 60, "the sensor's first rows")
    assert api.get(f"/sensors/{SERIAL}").json()["state"] == "online"

    slept = wait_final(api, send(api, "sleep"))
    assert slept["status"] == "applied"
    assert slept["reported"] == {"asleep": True, "sample_frequency_hz": 100.0}
    time.sleep(SETTLE_SECONDS)
    before = stored(database)
    time.sleep(QUIET_SECONDS)
    assert stored(database) == before, "an asleep sensor produces no rows"
    sensor = api.get(f"/sensors/{SERIAL}").json()
    # Heartbeats go on while asleep: asleep, not offline.
    assert (sensor["state"], sensor["online"]) == ("asleep", True)
    assert sensor["desired"]["asleep"] is True
    assert sensor["in_sync"] is True

    changed = wait_final(api, send(api, "change_sample_frequency", sample_frequency_hz=200))
    assert changed["status"] == "applied"
    assert changed["reported"] == {"asleep": True, "sample_frequency_hz": 200.0}
    assert stored(database) == before, "a frequency change does not wake the sensor"

    awoken = wait_final(api, send(api, "awake"))
    assert awoken["status"] == "applied"
    woke_at = datetime.fromisoformat(str(awoken["completed_at"]))
    # Two whole seconds of samples after the wake, at the new rate and without drift.
    window_start = woke_at + timedelta(seconds=1)
    wait_until(
        lambda: stored(database, window_start + timedelta(seconds=2.2)) > 0,
        30,
        "samples from after the window",
    )
    in_window = int(
        scalar(
            database.admin_url,
            "SELECT count(*) FROM measurements m JOIN sensors s ON s.id = m.sensor_id "
            "WHERE s.serial_number = %s AND m.time >= %s AND m.time < %s",
            SERIAL,
            window_start,
            window_start + timedelta(seconds=2),
        )
    )
    assert in_window in (400, 401), in_window
    sensor = api.get(f"/sensors/{SERIAL}").json()
    assert sensor["state"] == "online"
    assert sensor["reported"]["sample_frequency_hz"] == 200.0
    assert sensor["reported"]["asleep"] is False
    assert sensor["desired"] == {
        "asleep": False,
        "sample_frequency_hz": 200.0,
        "updated_at": sensor["desired"]["updated_at"],
    }


def test_a_command_sent_while_the_sensor_is_down_is_applied_when_it_returns(
    services: Services, database: TestDatabase, gateway: Gateway
) -> None:
    services.start("sensor-registry")
    services.start("measurements-ingester")
    sensor = start_sensor(services, hz="50")
    api = gateway.client("operator")
    wait_until(lambda: stored(database) > 0, 60, "the sensor's first rows")
    assert sensor.stop() == 0

    command_id = send(api, "change_sample_frequency", sample_frequency_hz=20)
    time.sleep(QUIET_SECONDS)
    assert api.get(f"/commands/{command_id}").json()["status"] == "pending"

    start_sensor(services, hz="50")
    applied = wait_final(api, command_id, timeout=60)
    assert applied["status"] == "applied"
    assert applied["reported"] == {"asleep": False, "sample_frequency_hz": 20.0}
    wait_until(
        lambda: api.get(f"/sensors/{SERIAL}").json()["reported"]["sample_frequency_hz"] == 20.0,
        30,
        "the sensor's reported frequency",
    )
