"""The api-gateway's HTTP API against the real database and broker: every route's success and
error codes, with the effects checked in the database and in the sensors' queues."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from iot.v1.command_pb2 import SensorCommand
from iot_routing import commands_queue
from iot_storage.api_keys import generate_key

from tests.integration.control_plane import add_sensor, seed_telemetry
from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway, GatewayFactory, create_key
from tests.integration.pipeline import Broker, execute, http_get, http_port, scalar

pytestmark = pytest.mark.integration


def test_missing_malformed_unknown_expired_and_revoked_keys_get_401(
    gateway: Gateway, database: TestDatabase
) -> None:
    anonymous = gateway.client(role=None)
    reply = anonymous.get("/sensors")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert "missing Authorization" in reply.json()["detail"]

    basic = gateway.client(role=None)
    basic.headers["Authorization"] = "Basic dXNlcjpwYXNz"
    assert basic.get("/sensors").status_code == 401
    assert gateway.client(key="not-a-key").get("/sensors").json()["detail"].startswith("malformed")
    unknown = create_key(database, "admin").replace("_", "-", 1).replace("iot-", "iot_")
    assert gateway.client(key=unknown[:-1] + ("A" if unknown[-1] != "A" else "B")).get(
        "/sensors"
    ).json() == {"detail": "unknown API key"}

    expired = create_key(
        database, "admin", "old", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert gateway.client(key=expired).get("/sensors").json() == {"detail": "API key expired"}

    admin = gateway.client("admin")
    doomed = admin.post("/api-keys", json={"name": "temp", "role": "viewer"})
    assert doomed.status_code == 201
    doomed_client = gateway.client(key=doomed.json()["key"])
    assert doomed_client.get("/whoami").json()["name"] == "temp"
    assert admin.delete(f"/api-keys/{doomed.json()['id']}").status_code == 204
    assert doomed_client.get("/whoami").json() == {"detail": "API key revoked"}
    # Only the hash is stored: the key itself appears nowhere in the table.
    stored = scalar(
        database.admin_url,
        "SELECT string_agg(prefix || encode(secret_hash, 'hex'), '') FROM api_keys",
    )
    assert doomed.json()["key"] not in stored


def test_roles_are_enforced_and_health_stays_open(gateway: Gateway, database: TestDatabase) -> None:
    add_sensor(database.admin_url, "sn-roles")
    viewer, operator = gateway.client("viewer"), gateway.client("operator")
    assert viewer.get("/sensors/sn-roles").status_code == 200
    refused = viewer.post("/commands", json={"action": "sleep", "serial_number": "sn-roles"})
    assert refused.status_code == 403
    assert "needs operator" in refused.json()["detail"]
    assert viewer.post("/targets", json={"name": "t"}).status_code == 403
    assert operator.delete("/sensors/sn-roles").status_code == 403
    assert operator.get("/api-keys").status_code == 403
    assert scalar(database.admin_url, "SELECT count(*) FROM commands") == 0

    port = int(gateway.url.rsplit(":", 1)[1])
    for path in ("/livez", "/readyz", "/api/v1/readyz", "/api/v1/openapi.json", "/metrics"):
        status, _ = http_get(port, path)
        assert status == 200, path


def test_targets_and_assignment(gateway: Gateway, database: TestDatabase) -> None:
    add_sensor(database.admin_url, "sn-a")
    add_sensor(database.admin_url, "sn-b")
    operator = gateway.client("operator")
    created = operator.post(
        "/targets", json={"name": "pump-1", "latitude": 48.1, "longitude": 11.6}
    )
    assert created.status_code == 201
    assert created.json()["latitude"] == 48.1
    assert operator.post("/targets", json={"name": "pump-1"}).status_code == 409
    half = operator.post("/targets", json={"name": "bridge", "latitude": 1.0})
    assert half.status_code == 422
    assert "both latitude and longitude" in half.json()["detail"]
    assert operator.post("/targets", json={"name": "bad name!"}).status_code == 422

    assigned = operator.put("/sensors/sn-a/target", json={"target": "pump-1"})
    assert assigned.status_code == 200
    assert assigned.json()["target"] == "pump-1"
    assert operator.put("/sensors/sn-a/target", json={"target": "nope"}).status_code == 404
    assert operator.put("/sensors/sn-zz/target", json={"target": "pump-1"}).status_code == 404

    listed = operator.get("/sensors", params={"target": "pump-1"}).json()["sensors"]
    assert [s["serial_number"] for s in listed] == ["sn-a"]
    assert operator.get("/sensors", params={"target": "nope"}).status_code == 404
    assert operator.get("/targets/pump-1").json()["sensor_count"] == 1
    assert [t["name"] for t in operator.get("/targets").json()["targets"]] == ["pump-1"]

    assert operator.delete("/targets/pump-1").status_code == 204
    assert operator.delete("/targets/pump-1").status_code == 404
    assert operator.get("/sensors/sn-a").json()["target"] is None


def test_listing_pages_and_deleting_sensors(gateway: Gateway, database: TestDatabase) -> None:
    for n in range(5):
        add_sensor(database.admin_url, f"sn-{n}")
    admin = gateway.client("admin")
    seen, after = [], None
    while True:
        page = admin.get("/sensors", params={"limit": 2, **({"after": after} if after else {})})
        seen += [s["serial_number"] for s in page.json()["sensors"]]
        after = page.json()["next_after"]
        if after is None:
            break
    assert seen == [f"sn-{n}" for n in range(5)]

    assert admin.delete("/sensors/sn-3").status_code == 204
    assert admin.get("/sensors/sn-3").status_code == 404
    assert admin.delete("/sensors/sn-3").status_code == 404
    assert admin.get("/sensors/not valid").status_code == 422


def test_command_is_recorded_published_and_desired(
    gateway: Gateway, database: TestDatabase, amqp_url: str
) -> None:
    add_sensor(database.admin_url, "sn-cmd")
    operator = gateway.client("operator")
    reply = operator.post(
        "/commands",
        json={
            "action": "change_sample_frequency",
            "sample_frequency_hz": 50,
            "serial_number": "sn-cmd",
            "ttl_seconds": 120,
        },
    )
    assert reply.status_code == 202
    (command,) = reply.json()["commands"]
    assert command["status"] == "pending"
    assert command["issued_by"] == "test-operator"

    async def take() -> list[bytes]:
        async with Broker(amqp_url) as broker:
            return await broker.take_all(commands_queue("sn-cmd").name)

    (body,) = asyncio.run(take())
    message = SensorCommand.FromString(body)
    assert message.command_id == command["command_id"]
    assert message.WhichOneof("action") == "change_sample_frequency"
    assert message.change_sample_frequency.sample_frequency_hz == 50
    assert message.expires_at.ToDatetime(UTC) - message.issued_at.ToDatetime(UTC) == timedelta(
        seconds=120
    )

    sensor = operator.get("/sensors/sn-cmd").json()
    assert sensor["desired"]["sample_frequency_hz"] == 50
    assert sensor["in_sync"] is False
    assert sensor["recent_commands"][0]["command_id"] == command["command_id"]
    fetched = operator.get(f"/commands/{command['command_id']}").json()
    assert fetched["status"] == "pending"

    legacy = operator.put(
        "/sensors/sn-cmd/change-sample-frequency", json={"new_sample_frequency": 5}
    )
    assert legacy.status_code == 202
    assert legacy.json()["sample_frequency_hz"] == 5
    assert operator.put("/sensors/sn-cmd/sleep").json()["action"] == "sleep"
    history = operator.get("/sensors/sn-cmd/commands").json()["commands"]
    assert [c["action"] for c in history] == [
        "sleep",
        "change_sample_frequency",
        "change_sample_frequency",
    ]


def test_fan_out_to_a_target_and_to_all(
    gateway: Gateway, database: TestDatabase, amqp_url: str
) -> None:
    for serial in ("sn-t1", "sn-t2", "sn-other"):
        add_sensor(database.admin_url, serial)
    operator = gateway.client("operator")
    operator.post("/targets", json={"name": "line-1"})
    for serial in ("sn-t1", "sn-t2"):
        operator.put(f"/sensors/{serial}/target", json={"target": "line-1"})

    to_target = operator.post("/commands", json={"action": "sleep", "target": "line-1"}).json()
    assert sorted(c["serial_number"] for c in to_target["commands"]) == ["sn-t1", "sn-t2"]
    assert {c["request_id"] for c in to_target["commands"]} == {to_target["request_id"]}
    to_all = operator.post("/commands", json={"action": "awake", "all": True}).json()
    assert len(to_all["commands"]) == 3

    async def depths() -> dict[str, int]:
        async with Broker(amqp_url) as broker:
            return {
                s: await broker.depth(commands_queue(s)) for s in ("sn-t1", "sn-t2", "sn-other")
            }

    assert asyncio.run(depths()) == {"sn-t1": 2, "sn-t2": 2, "sn-other": 1}
    assert (
        scalar(database.admin_url, "SELECT count(*) FROM sensors WHERE desired_asleep = false") == 3
    )


INVALID_COMMANDS: list[tuple[dict[str, object], int, str]] = [
    (
        {
            "action": "change_sample_frequency",
            "sample_frequency_hz": 0,
            "serial_number": "sn-v",
        },
        422,
        "> 0",
    ),
    (
        {
            "action": "change_sample_frequency",
            "sample_frequency_hz": 1e9,
            "serial_number": "sn-v",
        },
        422,
        "at most 25000",
    ),
    (
        {"action": "change_sample_frequency", "serial_number": "sn-v"},
        422,
        "needs sample_frequency_hz",
    ),
    (
        {"action": "sleep", "sample_frequency_hz": 5, "serial_number": "sn-v"},
        422,
        "takes no sample_frequency_hz",
    ),
    ({"action": "sleep", "serial_number": "sn-v", "all": True}, 422, "exactly one"),
    ({"action": "sleep"}, 422, "exactly one"),
    ({"action": "explode", "serial_number": "sn-v"}, 422, "action"),
    ({"action": "sleep", "serial_number": "sn-v", "ttl_seconds": 0}, 422, "ttl_seconds"),
    ({"action": "sleep", "serial_number": "sn-unknown"}, 404, "no sensor"),
    ({"action": "sleep", "target": "nowhere"}, 404, "no target"),
]


def test_invalid_commands_are_refused_and_not_recorded(
    gateway: Gateway, database: TestDatabase
) -> None:
    add_sensor(database.admin_url, "sn-v")
    operator = gateway.client("operator")
    for body, status, detail in INVALID_COMMANDS:
        reply = operator.post("/commands", json=body)
        assert reply.status_code == status, body
        assert detail in reply.json()["detail"], body
    assert scalar(database.admin_url, "SELECT count(*) FROM commands") == 0


def test_unknown_and_malformed_command_ids(gateway: Gateway) -> None:
    viewer = gateway.client("viewer")
    assert viewer.get(f"/commands/{uuid.uuid4()}").status_code == 404
    assert viewer.get("/commands/not-a-uuid").status_code == 422


def test_unreachable_broker_gives_503_and_a_failed_command(
    gateway_factory: GatewayFactory, database: TestDatabase
) -> None:
    gateway = gateway_factory(
        IOT_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",
        IOT_PUBLISH_TIMEOUT_SECONDS="1",
    )
    add_sensor(database.admin_url, "sn-dark")
    operator = gateway.client("operator")
    reply = operator.post("/commands", json={"action": "sleep", "serial_number": "sn-dark"})
    assert reply.status_code == 503
    assert "broker" in reply.json()["detail"]
    assert operator.put("/sensors/sn-dark/awake").status_code == 503
    statuses = scalar(database.admin_url, "SELECT array_agg(status) FROM commands")
    assert statuses == ["failed", "failed"]
    # Nothing was published, so nothing is desired.
    assert scalar(database.admin_url, "SELECT desired_asleep FROM sensors") is None
    status, body = http_get(http_port(gateway.process), "/readyz")
    assert (status, body.strip()) == (503, "not ready: amqp")


def test_unreachable_database_gives_503(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(IOT_DATABASE_URL="postgresql://iot_app@127.0.0.1:1/iot")
    reply = gateway.client("admin").get("/sensors")
    assert reply.status_code == 503
    assert "database is unavailable" in reply.json()["detail"]


def test_measurements_raw_bucketed_latest_and_logs(
    gateway: Gateway, database: TestDatabase
) -> None:
    sensor_id = add_sensor(database.admin_url, "sn-data")
    add_sensor(database.admin_url, "sn-empty")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    seed_telemetry(database.admin_url, sensor_id, start)
    viewer = gateway.client("viewer")
    since = start.isoformat()
    raw = viewer.get("/sensors/sn-data/measurements", params={"since": since, "limit": 30}).json()
    assert [s["value"] for s in raw["samples"]] == list(range(30))
    assert raw["truncated"] is True
    whole = viewer.get("/sensors/sn-data/measurements", params={"since": "10m"}).json()
    assert len(whole["samples"]) == 100
    assert whole["truncated"] is False

    bucketed = viewer.get(
        "/sensors/sn-data/measurements", params={"since": since, "bucket": "1s"}
    ).json()
    assert bucketed["bucket"] == "1s"
    assert [b["count"] for b in bucketed["buckets"]] == [10] * 10
    assert bucketed["buckets"][0] == {
        "time": start.isoformat().replace("+00:00", "Z"),
        "min": 0.0,
        "max": 9.0,
        "avg": 4.5,
        "count": 10,
    }
    assert viewer.get("/sensors/sn-data/measurements/latest").json()["value"] == 99
    assert viewer.get("/sensors/sn-empty/measurements/latest").status_code == 404
    assert viewer.get("/sensors/sn-nope/measurements").status_code == 404

    for params, detail in [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "offset"),
        ({"since": "1m", "until": "2m"}, "before until"),
        ({"since": "40d"}, "31 days"),
        ({"since": "1d", "bucket": "1s"}, "10000 buckets"),
        ({"bucket": "fast"}, "bucket"),
    ]:
        refused = viewer.get("/sensors/sn-data/measurements", params=params)
        assert refused.status_code == 422, params
        assert detail in refused.json()["detail"], params

    logs = viewer.get("/sensors/sn-data/logs").json()["logs"]
    assert [line["message"] for line in logs] == ["System powering on", "overheated"]
    errors = viewer.get("/sensors/sn-data/logs", params={"level": "warning"}).json()["logs"]
    assert [line["level"] for line in errors] == ["error"]
    assert viewer.get("/sensors/sn-data/logs", params={"level": "loud"}).status_code == 422


def test_presence_online_asleep_offline(gateway: Gateway, database: TestDatabase) -> None:
    now = datetime.now(UTC)
    for serial in ("sn-on", "sn-sleep", "sn-gone", "sn-data-only", "sn-never"):
        add_sensor(database.admin_url, serial)
    execute(
        database.admin_url,
        "UPDATE sensors SET last_heartbeat_at = %s, heartbeat_interval_s = 5 "
        "WHERE serial_number IN ('sn-on', 'sn-sleep')",
        now,
    )
    execute(
        database.admin_url,
        "UPDATE sensors SET reported_asleep = true WHERE serial_number = 'sn-sleep'",
    )
    # Silent for four intervals of 5 s: past the default three.
    execute(
        database.admin_url,
        "UPDATE sensors SET last_heartbeat_at = %s, heartbeat_interval_s = 5 "
        "WHERE serial_number = 'sn-gone'",
        now - timedelta(seconds=20),
    )
    execute(
        database.admin_url,
        "INSERT INTO measurement_batches (sensor_id, sequence, first_sample_time, sample_count, "
        "sample_rate_hz) SELECT id, 1, now(), 1, 1 FROM sensors "
        "WHERE serial_number = 'sn-data-only'",
    )
    viewer = gateway.client("viewer")
    states = {s["serial_number"]: s["state"] for s in viewer.get("/sensors").json()["sensors"]}
    assert states == {
        "sn-data-only": "online",
        "sn-gone": "offline",
        "sn-never": "offline",
        "sn-on": "online",
        "sn-sleep": "asleep",
    }
    asleep = viewer.get("/sensors/sn-sleep").json()
    assert asleep["online"] is True
    assert asleep["last_seen_at"] is not None
    offline = [
        s["serial_number"]
        for s in viewer.get("/sensors", params={"online": False}).json()["sensors"]
    ]
    assert offline == ["sn-gone", "sn-never"]
    only_asleep = viewer.get("/sensors", params={"state": "asleep"}).json()["sensors"]
    assert [s["serial_number"] for s in only_asleep] == ["sn-sleep"]
    assert (
        viewer.get("/sensors", params={"state": "asleep", "online": False}).json()["sensors"] == []
    )


def test_bootstrap_key_and_the_one_time_key_command(
    gateway_factory: GatewayFactory, database: TestDatabase
) -> None:
    created = subprocess.run(
        [
            str(Path(sys.executable).with_name("iot-db")),
            "create-api-key",
            "--database-url",
            database.admin_url,
            "--name",
            "first-admin",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    first_key = created.stdout.strip()
    assert first_key.startswith("iot_")
    assert "shown only now" in created.stderr

    bootstrap = generate_key().key
    gateway = gateway_factory(IOT_BOOTSTRAP_ADMIN_KEY=bootstrap)
    assert gateway.client(key=first_key).get("/whoami").json()["name"] == "first-admin"
    me = gateway.client(key=bootstrap).get("/whoami").json()
    assert (me["name"], me["role"]) == ("bootstrap", "admin")

    key_id = scalar(database.admin_url, "SELECT id FROM api_keys WHERE name = 'bootstrap'")
    assert gateway.client(key=first_key).delete(f"/api-keys/{key_id}").status_code == 204
    # A restart with the same variable does not bring the revoked key back.
    again = gateway_factory(IOT_BOOTSTRAP_ADMIN_KEY=bootstrap)
    assert again.client(key=bootstrap).get("/whoami").json() == {"detail": "API key revoked"}
    assert scalar(database.admin_url, "SELECT count(*) FROM api_keys WHERE name = 'bootstrap'") == 1
