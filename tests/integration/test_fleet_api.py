"""The api-gateway's fleet API against the real database and broker: projects, device groups,
devices with their credentials and queues, and join requests handed to the join-dispatcher.

The dispatcher's part (deliveries, answers) is written here with SQL, as it would write it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiormq
import asyncpg
import httpx
import pytest
from api_gateway.fleet import join_sql
from iot.v1.join_pb2 import JoinRequest
from iot_routing import JOIN_REQUESTS, device_queue_name, join_key, ping_key
from iot_storage.device_credentials import hash_secret

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway, GatewayFactory
from tests.integration.pipeline import Broker, execute, query, scalar

pytestmark = pytest.mark.integration

PROJECT, GROUP = "studio", "cams"


def _created(reply: httpx.Response, status: int = 201) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def _refused(reply: httpx.Response, status: int, detail: str) -> None:
    assert reply.status_code == status, reply.text
    assert detail in reply.json()["detail"], reply.text


def _project_with_group(admin: httpx.Client, project: str = PROJECT, group: str = GROUP) -> None:
    _created(admin.post("/projects", json={"id": project, "name": project.title()}))
    _created(admin.post(f"/projects/{project}/groups", json={"name": group}))


def _register(admin: httpx.Client, name: str, group: str = GROUP) -> dict[str, Any]:
    return dict(
        _created(admin.post(f"/projects/{PROJECT}/devices", json={"name": name, "group": group}))
    )


async def _queue_exists(amqp_url: str, name: str) -> bool:
    connection = await aiormq.connect(amqp_url)
    try:
        channel = await connection.channel()
        try:
            await channel.queue_declare(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True
    finally:
        await connection.close()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_projects_and_groups(gateway: Gateway) -> None:
    admin, operator, viewer = (gateway.client(role) for role in ("admin", "operator", "viewer"))
    project = _created(admin.post("/projects", json={"id": PROJECT, "name": "Studio"}))
    assert project["id"] == PROJECT
    assert set(project) == {"id", "name", "created_at"}
    _refused(admin.post("/projects", json={"id": PROJECT, "name": "Again"}), 409, "exists")
    _refused(operator.post("/projects", json={"id": "p2", "name": "P"}), 403, "needs admin")
    _refused(admin.post("/projects", json={"id": "all", "name": "All"}), 422, "reserved")
    _refused(admin.post("/projects", json={"id": "Big", "name": "B"}), 422, "body.id")
    _refused(admin.post("/projects", json={"id": "p3", "name": ""}), 422, "body.name")

    group = _created(
        admin.post(f"/projects/{PROJECT}/groups", json={"name": GROUP, "comments": "hall"})
    )
    assert group == {
        "project": PROJECT,
        "name": GROUP,
        "comments": "hall",
        "created_at": group["created_at"],
        "devices": 0,
        "online": 0,
    }
    _created(admin.post(f"/projects/{PROJECT}/groups", json={"name": "mics"}))
    _refused(admin.post(f"/projects/{PROJECT}/groups", json={"name": GROUP}), 409, "already")
    _refused(admin.post("/projects/nowhere/groups", json={"name": GROUP}), 404, "no project")
    _refused(viewer.post(f"/projects/{PROJECT}/groups", json={"name": "x"}), 403, "needs admin")

    _register(admin, "cam-1")
    listed = viewer.get("/projects").json()["projects"]
    assert [(p["id"], p["groups"], p["devices"]) for p in listed] == [(PROJECT, 2, 1)]
    detail = viewer.get(f"/projects/{PROJECT}").json()
    assert [(g["name"], g["devices"]) for g in detail["groups"]] == [(GROUP, 1), ("mics", 0)]
    groups = viewer.get(f"/projects/{PROJECT}/groups").json()["groups"]
    assert groups == detail["groups"]
    _refused(viewer.get("/projects/nowhere"), 404, "no project with id 'nowhere'")
    _refused(viewer.get("/projects/nowhere/groups"), 404, "no project")
    _refused(viewer.get("/projects/Not_A_Slug"), 422, "project")


def test_registration_shows_the_credential_once_and_declares_the_queue(
    gateway: Gateway, database: TestDatabase, amqp_url: str
) -> None:
    admin, operator = gateway.client("admin"), gateway.client("operator")
    _project_with_group(admin)
    device = _register(admin, "Camera 1")
    credential = device.pop("credential")
    assert device["id"].startswith("dev-")
    assert device["revoked_at"] is None
    assert device["online"] is False
    assert (device["project"], device["group"], device["name"]) == (PROJECT, GROUP, "Camera 1")
    assert credential["username"] == device["id"]
    assert credential["vhost"] == "/"
    assert len(credential["password"]) == 43
    # Only the hash is stored, and the secret is never shown again.
    stored = query(database.admin_url, "SELECT secret_hash, row_to_json(d)::text FROM devices d")
    assert [bytes(stored[0][0])] == [hash_secret(credential["password"])]
    assert credential["password"] not in stored[0][1]
    again = admin.get(f"/devices/{device['id']}")
    assert again.json() == device
    assert credential["password"] not in again.text

    _refused(
        admin.post(f"/projects/{PROJECT}/devices", json={"name": "Camera 1", "group": GROUP}),
        409,
        "already",
    )
    _refused(
        admin.post(f"/projects/{PROJECT}/devices", json={"name": "c", "group": "nope"}),
        404,
        "has no group named 'nope'",
    )
    _refused(
        admin.post("/projects/nowhere/devices", json={"name": "c", "group": GROUP}),
        404,
        "no project",
    )
    _refused(
        operator.post(f"/projects/{PROJECT}/devices", json={"name": "c", "group": GROUP}),
        403,
        "needs admin",
    )
    assert scalar(database.admin_url, "SELECT count(*) FROM devices") == 1

    async def routed() -> list[bytes]:
        """What the device's queue receives: its own JOIN key and its group's pings."""
        async with Broker(amqp_url) as broker:
            await broker.publish(join_key(PROJECT, GROUP, device["id"]), b"join")
            await broker.publish(ping_key(PROJECT, GROUP), b"ping")
            await broker.publish(join_key(PROJECT, GROUP, "dev-0000000000000000"), b"other")
            return await broker.take_all(device_queue_name(device["id"]))

    assert sorted(asyncio.run(routed())) == [b"join", b"ping"]


def test_listing_and_presence(gateway: Gateway, database: TestDatabase) -> None:
    admin, viewer = gateway.client("admin"), gateway.client("viewer")
    _project_with_group(admin)
    _created(admin.post(f"/projects/{PROJECT}/groups", json={"name": "mics"}))
    seen, silent, mic = (
        _register(admin, n, g)["id"]
        for n, g in [("cam-a", GROUP), ("cam-b", GROUP), ("mic-a", "mics")]
    )
    # The dispatcher records answers; 46 s is past the default offline window of 45 s.
    execute(database.admin_url, "UPDATE devices SET last_seen_at = now() WHERE id = %s", seen)
    execute(
        database.admin_url,
        "UPDATE devices SET last_seen_at = now() - interval '46 seconds' WHERE id = %s",
        silent,
    )
    devices = viewer.get(f"/projects/{PROJECT}/devices").json()["devices"]
    assert [(d["id"], d["online"]) for d in devices] == [
        (seen, True),
        (silent, False),
        (mic, False),
    ]
    in_group = viewer.get(f"/projects/{PROJECT}/devices", params={"group": "mics"}).json()
    assert [d["id"] for d in in_group["devices"]] == [mic]
    groups = viewer.get(f"/projects/{PROJECT}/groups").json()["groups"]
    assert [(g["name"], g["devices"], g["online"]) for g in groups] == [
        (GROUP, 2, 1),
        ("mics", 1, 0),
    ]
    _refused(viewer.get(f"/projects/{PROJECT}/devices", params={"group": "x"}), 404, "no group")
    _refused(viewer.get("/projects/nowhere/devices"), 404, "no project")
    _refused(viewer.get("/devices/dev-0000000000000000"), 404, "no device")
    _refused(viewer.get("/devices/cam-a"), 422, "device_id")


def test_rotate_and_revoke(gateway: Gateway, database: TestDatabase, amqp_url: str) -> None:
    admin, operator = gateway.client("admin"), gateway.client("operator")
    _project_with_group(admin)
    device = _register(admin, "cam")
    device_id, first = device["id"], device["credential"]["password"]
    queue = device_queue_name(device_id)

    _refused(operator.post(f"/devices/{device_id}/rotate-credential"), 403, "needs admin")
    rotated = _created(admin.post(f"/devices/{device_id}/rotate-credential"), 200)
    second = rotated["credential"]["password"]
    assert second != first
    assert rotated["credential_rotated_at"] is not None
    stored = scalar(database.admin_url, "SELECT secret_hash FROM devices WHERE id = %s", device_id)
    assert bytes(stored) == hash_secret(second)

    _refused(operator.post(f"/devices/{device_id}/revoke"), 403, "needs admin")
    assert asyncio.run(_queue_exists(amqp_url, queue))
    revoked = _created(admin.post(f"/devices/{device_id}/revoke"), 200)
    assert revoked["revoked_at"] is not None
    assert not asyncio.run(_queue_exists(amqp_url, queue))
    # Idempotent: the same revocation time, and deleting a queue that is gone succeeds.
    assert _created(admin.post(f"/devices/{device_id}/revoke"), 200) == revoked
    _refused(admin.post(f"/devices/{device_id}/rotate-credential"), 409, "revoked")
    assert bytes(scalar(database.admin_url, "SELECT secret_hash FROM devices")) == bytes(stored)

    listed = admin.get(f"/projects/{PROJECT}/devices").json()["devices"]
    assert listed == []
    with_revoked = admin.get(
        f"/projects/{PROJECT}/devices", params={"include_revoked": "true"}
    ).json()["devices"]
    assert [d["id"] for d in with_revoked] == [device_id]
    assert admin.get(f"/projects/{PROJECT}").json()["groups"][0]["devices"] == 0
    # The name stays taken: the revoked row keeps its join history.
    _refused(
        admin.post(f"/projects/{PROJECT}/devices", json={"name": "cam", "group": GROUP}),
        409,
        "already",
    )
    for path in ("revoke", "rotate-credential"):
        _refused(admin.post(f"/devices/dev-0000000000000000/{path}"), 404, "no device")


def test_join_request_is_recorded_and_handed_to_the_dispatcher(
    gateway: Gateway, database: TestDatabase, amqp_url: str
) -> None:
    admin, operator, viewer = (gateway.client(role) for role in ("admin", "operator", "viewer"))
    _project_with_group(admin)
    devices = [_register(admin, name)["id"] for name in ("cam-a", "cam-b", "cam-c", "cam-d")]
    body = {
        "project": PROJECT,
        "group": GROUP,
        "session_id": "session-42",
        "session_name": "room-42",
        "session_metadata": {"topic": "standup", "size": [1280, 720]},
        "deadline": "5m",
    }
    _refused(viewer.post("/join-requests", json=body), 403, "needs operator")
    before = datetime.now(UTC)
    accepted = _created(operator.post("/join-requests", json=body), 202)
    request_id, deadline = accepted["join_request_id"], _instant(accepted["deadline"])
    assert set(accepted) == {"join_request_id", "deadline"}
    assert before + timedelta(minutes=5) <= deadline <= datetime.now(UTC) + timedelta(minutes=5)

    async def handed_over() -> list[bytes]:
        async with Broker(amqp_url) as broker:
            return await broker.take_all(JOIN_REQUESTS.name)

    (message,) = (JoinRequest.FromString(raw) for raw in asyncio.run(handed_over()))
    assert (message.request_id, message.project, message.group) == (request_id, PROJECT, GROUP)
    assert (message.session_id, message.session_name) == ("session-42", "room-42")
    assert json.loads(message.session_metadata_json) == body["session_metadata"]
    assert message.deadline.ToDatetime(UTC) == deadline
    assert message.deadline.ToDatetime(UTC) - message.requested_at.ToDatetime(UTC) == timedelta(
        minutes=5
    )

    fresh = viewer.get(f"/join-requests/{request_id}").json()
    assert fresh["status"] == "pending"
    assert fresh["requested_by"] == "test-operator"
    assert fresh["session_metadata"] == body["session_metadata"]
    assert fresh["counts"] == dict.fromkeys(
        ("targeted", "pending", "delivered", "joined", "failed", "expired"), 0
    )
    assert fresh["devices"] == []

    # What the dispatcher writes as JOINs go out and the devices answer.
    execute(
        database.admin_url,
        "UPDATE join_requests SET status = 'dispatched', dispatched_at = now() WHERE id = %s",
        request_id,
    )
    for device_id, status, reason in zip(
        devices,
        ("pending", "delivered", "joined", "failed"),
        (None, None, None, "camera busy"),
        strict=True,
    ):
        execute(
            database.admin_url,
            "INSERT INTO join_deliveries (request_id, device_id, status, reason, published_at,"
            " answered_at) VALUES (%s, %s, %s, %s, now(),"
            " CASE WHEN %s IN ('joined', 'failed') THEN now() END)",
            request_id,
            device_id,
            status,
            reason,
            status,
        )
    progress = viewer.get(f"/join-requests/{request_id}").json()
    assert progress["status"] == "dispatched"
    assert progress["dispatched_at"] is not None
    assert progress["counts"] == {
        "targeted": 4,
        "pending": 1,
        "delivered": 1,
        "joined": 1,
        "failed": 1,
        "expired": 0,
    }
    rows = {row["name"]: row for row in progress["devices"]}
    assert [rows[name]["status"] for name in ("cam-a", "cam-b", "cam-c", "cam-d")] == [
        "pending",
        "delivered",
        "joined",
        "failed",
    ]
    assert rows["cam-d"]["reason"] == "camera busy"
    assert rows["cam-c"]["answered_at"] is not None
    assert rows["cam-a"]["device_id"] == devices[0]

    second = _created(operator.post("/join-requests", json={**body, "deadline": "60s"}), 202)
    listed = viewer.get("/join-requests").json()["join_requests"]
    assert [r["join_request_id"] for r in listed] == [second["join_request_id"], request_id]
    assert "devices" not in listed[0]
    assert listed[1]["counts"]["targeted"] == 4
    one = viewer.get("/join-requests", params={"project": PROJECT, "group": GROUP, "limit": 1})
    assert [r["join_request_id"] for r in one.json()["join_requests"]] == [
        second["join_request_id"]
    ]
    _refused(viewer.get("/join-requests", params={"group": GROUP}), 422, "give project")
    _refused(viewer.get("/join-requests", params={"project": "nowhere"}), 404, "no project")
    _refused(viewer.get(f"/join-requests/{uuid.uuid4()}"), 404, "no join request")
    _refused(viewer.get("/join-requests/42"), 422, "join_request_id")


def test_join_request_validation(gateway_factory: GatewayFactory, database: TestDatabase) -> None:
    gateway = gateway_factory(IOT_MAX_JOIN_DEADLINE_SECONDS="600")
    admin, operator = gateway.client("admin"), gateway.client("operator")
    _project_with_group(admin)
    body = {"project": PROJECT, "group": GROUP, "session_id": "s", "session_name": "r"}
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"project": "nowhere"}, 404, "no project"),
        ({"group": "nope"}, 404, "has no group named 'nope'"),
        ({"deadline": "11m"}, 422, "at most 10m from now"),
        ({"deadline": "2020-01-01T00:00:00Z"}, 422, "in the future"),
        ({"deadline": "2099-01-01T00:00:00"}, 422, "offset"),
        ({"deadline": "tomorrow"}, 422, "deadline"),
        ({"session_metadata": ["not", "an", "object"]}, 422, "session_metadata"),
        ({"session_name": ""}, 422, "session_name"),
        ({"session_id": "x" * 201}, 422, "session_id"),
        ({"project": "all"}, 422, "reserved"),
        ({"extra": 1}, 422, "extra"),
    ]
    for change, status, detail in refusals:
        _refused(operator.post("/join-requests", json={**body, **change}), status, detail)
    assert scalar(database.admin_url, "SELECT count(*) FROM join_requests") == 0

    soon = (datetime.now(UTC) + timedelta(minutes=9)).isoformat()
    at_instant = _created(operator.post("/join-requests", json={**body, "deadline": soon}), 202)
    assert _instant(at_instant["deadline"]) == datetime.fromisoformat(soon)
    by_default = _created(operator.post("/join-requests", json=body), 202)
    row = query(
        database.admin_url,
        "SELECT deadline - requested_at, session_metadata::text FROM join_requests WHERE id = %s",
        by_default["join_request_id"],
    )
    assert row == [(timedelta(seconds=60), "{}")]


def test_unreachable_broker_registers_nothing_and_fails_the_join_request(
    gateway_factory: GatewayFactory, database: TestDatabase
) -> None:
    gateway = gateway_factory(
        IOT_AMQP_URL="amqp://guest:guest@127.0.0.1:1/", IOT_PUBLISH_TIMEOUT_SECONDS="1"
    )
    admin, operator = gateway.client("admin"), gateway.client("operator")
    _project_with_group(admin)  # the database alone is enough for these

    _refused(
        admin.post(f"/projects/{PROJECT}/devices", json={"name": "cam", "group": GROUP}),
        503,
        "nothing was registered",
    )
    assert scalar(database.admin_url, "SELECT count(*) FROM devices") == 0

    reply = operator.post(
        "/join-requests",
        json={"project": PROJECT, "group": GROUP, "session_id": "s", "session_name": "r"},
    )
    assert reply.status_code == 503
    (request_id, status, reason) = query(
        database.admin_url, "SELECT id::text, status, reason FROM join_requests"
    )[0]
    assert request_id in reply.json()["detail"]
    assert (status, reason) == ("failed", "broker unreachable")
    shown = admin.get(f"/join-requests/{request_id}").json()
    assert (shown["status"], shown["reason"]) == ("failed", "broker unreachable")

    # A device registered while the broker was up: revoking it takes effect regardless, and
    # the answer says the queue is still to be deleted.
    device_id = "dev-0123456789abcdef"
    execute(
        database.admin_url,
        "INSERT INTO devices (id, project_id, group_name, name, secret_hash)"
        " VALUES (%s, %s, %s, 'old', %s)",
        device_id,
        PROJECT,
        GROUP,
        hash_secret("x"),
    )
    _refused(admin.post(f"/devices/{device_id}/revoke"), 503, "repeat the call")
    assert scalar(
        database.admin_url, "SELECT revoked_at IS NOT NULL FROM devices WHERE id = %s", device_id
    )


async def test_a_lost_confirm_never_fails_a_request_the_dispatcher_has_taken(
    database: TestDatabase,
) -> None:
    """The gateway's 'failed' after an unconfirmed hand-over is only for requests nobody took.

    A request stays pending while the dispatcher publishes its JOINs; its recorded targets are
    what says it is under way.
    """
    db = database.admin_url
    execute(db, "INSERT INTO projects (id, name) VALUES ('lost', 'Lost')")
    execute(db, "INSERT INTO device_groups (project_id, name) VALUES ('lost', 'a')")
    execute(
        db,
        "INSERT INTO devices (id, project_id, group_name, name, secret_hash)"
        " VALUES ('dev-0000000000000001', 'lost', 'a', 'd1', %s)",
        hash_secret("x"),
    )
    taken, untouched, dispatched = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for request_id, status in (
        (taken, "pending"),
        (untouched, "pending"),
        (dispatched, "dispatched"),
    ):
        execute(
            db,
            "INSERT INTO join_requests (id, project_id, group_name, session_id, session_name,"
            " status, requested_by, deadline) VALUES (%s, 'lost', 'a', 's', 's', %s, 'ops',"
            " now() + interval '1 minute')",
            request_id,
            status,
        )
    execute(
        db,
        "INSERT INTO join_deliveries (request_id, device_id) VALUES (%s, 'dev-0000000000000001')",
        taken,
    )
    connection = await asyncpg.connect(database.app_url)
    try:
        outcomes = [
            await join_sql.mark_failed(connection, request_id, "not confirmed")
            for request_id in (taken, untouched, dispatched)
        ]
    finally:
        await connection.close()
    assert outcomes == [False, True, False]
    statuses = dict(query(db, "SELECT id, status FROM join_requests"))
    assert statuses == {taken: "pending", untouched: "failed", dispatched: "dispatched"}
