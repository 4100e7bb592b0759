"""The broker-auth endpoints over HTTP (in process): form handling, answers, metrics, logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from api_gateway.broker_auth import DeviceEntry, DeviceRecord, create_broker_auth_app
from api_gateway.broker_auth.forms import MAX_BODY_BYTES, MalformedRequestError, parse_form
from iot_routing import device_queue_name, join_acks_key, join_key
from iot_service import ServiceMetrics
from iot_storage.device_credentials import generate_credential

CREDENTIAL = generate_credential()
ME = DeviceRecord(id="dev-aaaaaaaaaaaaaaaa", project="p1", group="g1", revoked=False)
REVOKED = DeviceRecord(id="dev-rrrrrrrrrrrrrrrr", project="p1", group="g1", revoked=True)
FORM = "application/x-www-form-urlencoded"


class RecordingLog:
    """A structlog stand-in that keeps every call."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return log


class Devices:
    def __init__(self) -> None:
        self.entries = {
            record.id: DeviceEntry(record, CREDENTIAL.secret_hash) for record in (ME, REVOKED)
        }
        self.calls: list[str] = []
        self.error: Exception | None = None

    async def __call__(self, device_id: str) -> DeviceEntry | None:
        self.calls.append(device_id)
        if self.error is not None:
            raise self.error
        return self.entries.get(device_id)


class Harness:
    def __init__(
        self,
        client: httpx.AsyncClient,
        devices: Devices,
        log: RecordingLog,
        metrics: ServiceMetrics,
    ) -> None:
        self.client = client
        self.devices = devices
        self.log = log
        self.metrics = metrics

    async def ask(self, endpoint: str, **form: str) -> str:
        reply = await self.client.post(
            f"/rabbitmq/auth/{endpoint}", content=urlencode(form), headers={"content-type": FORM}
        )
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        return reply.text

    def count(self, endpoint: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "iot_broker_auth_decisions_total",
            {"service": "api-gateway", "endpoint": endpoint, "result": result},
        )
        return value or 0.0

    def denials(self) -> list[dict[str, Any]]:
        return [fields for _, event, fields in self.log.lines if event == "broker auth denied"]


@pytest.fixture
async def auth() -> AsyncIterator[Harness]:
    devices, log, metrics = Devices(), RecordingLog(), ServiceMetrics("api-gateway")
    app = create_broker_auth_app(devices, vhost="/", cache_seconds=5, metrics=metrics, log=log)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield Harness(client, devices, log, metrics)


async def test_a_device_logs_in_with_its_secret(auth: Harness) -> None:
    assert await auth.ask("user", username=ME.id, password=CREDENTIAL.secret) == "allow"
    assert auth.count("user", "allow") == 1


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        (ME.id, "not-the-secret", "wrong password"),
        (ME.id, "", "wrong password"),
        (REVOKED.id, CREDENTIAL.secret, "device revoked"),
        ("dev-zzzzzzzzzzzzzzzz", CREDENTIAL.secret, "unknown device"),
        ("guest", "guest", "not a device user name"),
    ],
)
async def test_logins_are_refused_with_a_logged_reason_and_no_password(
    auth: Harness, username: str, password: str, reason: str
) -> None:
    assert await auth.ask("user", username=username, password=password) == "deny"
    [denial] = auth.denials()
    assert denial["reason"] == reason
    assert denial["endpoint"] == "user"
    assert denial["username"] == username
    assert "password" not in denial
    assert CREDENTIAL.secret not in repr(auth.log.lines)
    assert auth.count("user", "deny") == 1


async def test_a_user_name_that_is_no_device_id_costs_no_lookup(auth: Harness) -> None:
    await auth.ask("user", username="guest", password="guest")
    await auth.ask("vhost", username="iot-registry", vhost="/")
    assert auth.devices.calls == []


async def test_vhost_resource_and_topic_questions(auth: Harness) -> None:
    own_join = join_key(ME.project, ME.group, ME.id)
    queue = device_queue_name(ME.id)
    assert await auth.ask("vhost", username=ME.id, vhost="/", ip="127.0.0.1") == "allow"
    assert await auth.ask("vhost", username=ME.id, vhost="other", ip="127.0.0.1") == "deny"
    resource = {"username": ME.id, "vhost": "/", "resource": "queue", "name": queue}
    assert await auth.ask("resource", **resource, permission="read") == "allow"
    assert await auth.ask("resource", **resource, permission="configure") == "deny"
    topic = {"username": ME.id, "vhost": "/", "resource": "topic", "name": "iot"}
    assert await auth.ask("topic", **topic, permission="read", routing_key=own_join) == "allow"
    assert await auth.ask("topic", **topic, permission="write", routing_key=own_join) == "deny"
    assert (
        await auth.ask("topic", **topic, permission="write", routing_key=join_acks_key(ME.id))
        == "allow"
    )
    # RabbitMQ's extra fields (tags, variable maps) are accepted and ignored.
    assert (
        await auth.ask(
            "topic",
            **topic,
            permission="read",
            routing_key=own_join,
            tags="",
            **{"variable_map.username": ME.id},
        )
        == "allow"
    )
    # One lookup served them all.
    assert auth.devices.calls == [ME.id]


@pytest.mark.parametrize(
    ("endpoint", "form"),
    [
        ("user", {"username": ME.id}),
        ("vhost", {"username": ME.id}),
        ("resource", {"username": ME.id, "vhost": "/", "resource": "queue", "name": "q"}),
        (
            "topic",
            {
                "username": ME.id,
                "vhost": "/",
                "resource": "topic",
                "name": "iot",
                "permission": "read",
            },
        ),
    ],
)
async def test_a_missing_field_is_denied(
    auth: Harness, endpoint: str, form: dict[str, str]
) -> None:
    assert await auth.ask(endpoint, **form) == "deny"
    assert auth.denials()[0]["reason"].startswith("malformed request: missing")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (f"username={ME.id}&password=x", "application/json"),
        (f"username={ME.id}&password=x", None),
        (f"username={ME.id}&username={ME.id}&password=x", FORM),
        (b"username=\xff&password=x", FORM),
        ("username=%ff&password=x", FORM),
        ("username", FORM),
        ("", FORM),
        ("password=" + "x" * MAX_BODY_BYTES, FORM),
    ],
)
async def test_malformed_requests_are_denied_never_an_error(
    auth: Harness, content: str | bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    reply = await auth.client.post("/rabbitmq/auth/user", content=content, headers=headers)
    assert (reply.status_code, reply.text) == (200, "deny")
    assert auth.denials()[0]["reason"].startswith("malformed request")
    assert auth.devices.calls == []


async def test_a_failing_lookup_denies_and_counts_as_an_error(auth: Harness) -> None:
    auth.devices.error = ConnectionError("database down")
    assert await auth.ask("user", username=ME.id, password=CREDENTIAL.secret) == "deny"
    assert auth.count("user", "error") == 1
    assert auth.denials()[0]["reason"] == "device lookup failed: ConnectionError: database down"
    # Not cached: the next question asks again, and gets in.
    auth.devices.error = None
    assert await auth.ask("user", username=ME.id, password=CREDENTIAL.secret) == "allow"


async def test_only_post_is_served(auth: Harness) -> None:
    reply = await auth.client.get(
        "/rabbitmq/auth/user", params={"username": ME.id, "password": CREDENTIAL.secret}
    )
    assert reply.status_code == 405
    assert (await auth.client.post("/rabbitmq/auth/other")).status_code == 404


def test_form_parsing_keeps_values_exactly() -> None:
    form = parse_form(f"{FORM}; charset=utf-8", b"name=device.x.client.inbox&vhost=%2F&tags=")
    assert form == {"name": "device.x.client.inbox", "vhost": "/", "tags": ""}
    with pytest.raises(MalformedRequestError, match="repeated"):
        parse_form(FORM, b"a=1&a=2")
