"""The api-gateway's gRPC API with a real gRPC client against the real gateway process, database
and broker: authentication, roles, errors as statuses, the effects in the database and the
sensors' queues, the health service and reflection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from iot.v1 import gateway_pb2 as pb
from iot.v1 import log_pb2
from iot.v1.command_pb2 import SensorCommand
from iot.v1.gateway_pb2_grpc import SensorGatewayStub
from iot_routing import commands_queue
from iot_storage.api_keys import generate_key

from tests.integration.control_plane import add_sensor, seed_telemetry
from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway, GatewayFactory, logged_port
from tests.integration.pipeline import Broker, Services, query, scalar
from tests.support import wait_until

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CALL_TIMEOUT = 15.0


class Client:
    """A gRPC channel to one gateway, and calls to it as a role (or with any header value)."""

    def __init__(self, gateway: Gateway, channel: grpc.Channel) -> None:
        self.gateway = gateway
        self.channel = channel
        self._stub: Any = SensorGatewayStub(channel)

    def call(
        self, method: str, request: Any, role: str | None = "admin", header: str | None = None
    ) -> Any:
        """Call an RPC as role; header replaces the whole authorization value when given."""
        if header is None and role is not None:
            header = f"Bearer {self.gateway.keys[role]}"
        metadata = [] if header is None else [("authorization", header)]
        return getattr(self._stub, method)(request, metadata=metadata, timeout=CALL_TIMEOUT)

    def refused(self, method: str, request: Any, **auth: Any) -> tuple[grpc.StatusCode, str]:
        """The status and message of a call that must fail."""
        with pytest.raises(grpc.RpcError) as raised:
            self.call(method, request, **auth)
        error = cast(grpc.Call, raised.value)
        return error.code(), error.details() or ""

    def health(self, service: str = "") -> int:
        # The stubs of grpcio-health-checking do not type the stub's methods.
        checks: Any = health_pb2_grpc.HealthStub(self.channel)
        return int(
            checks.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT
            ).status
        )


def connect(gateway: Gateway) -> Iterator[Client]:
    port = logged_port(gateway.process, "grpc_port")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Client(gateway, channel)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[Client]:
    """A gRPC client of a gateway with the default settings."""
    yield from connect(gateway)


def test_missing_malformed_and_unknown_keys_are_unauthenticated(client: Client) -> None:
    whoami = pb.WhoAmIRequest()
    code, detail = client.refused("WhoAmI", whoami, role=None)
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert "missing Authorization" in detail
    assert client.refused("WhoAmI", whoami, header="Basic dXNlcjpwYXNz") == (
        grpc.StatusCode.UNAUTHENTICATED,
        "malformed Authorization header (expected 'Bearer <api key>')",
    )
    code, detail = client.refused("WhoAmI", whoami, header="Bearer not-a-key")
    assert (code, detail.split(" (")[0]) == (grpc.StatusCode.UNAUTHENTICATED, "malformed API key")
    unknown = generate_key().key  # well formed, never stored
    assert client.refused("WhoAmI", whoami, header=f"Bearer {unknown}") == (
        grpc.StatusCode.UNAUTHENTICATED,
        "unknown API key",
    )
    # Input is not even looked at before the caller is known.
    code, _ = client.refused("GetCommand", pb.GetCommandRequest(command_id="x"), role=None)
    assert code is grpc.StatusCode.UNAUTHENTICATED

    me = client.call("WhoAmI", whoami, role="operator")
    assert (me.name, me.role, me.HasField("expires_at")) == (
        "test-operator",
        pb.API_KEY_ROLE_OPERATOR,
        False,
    )


def test_roles_are_enforced(client: Client, database: TestDatabase) -> None:
    add_sensor(database.admin_url, "sn-roles")
    sleep = pb.SendCommandsRequest(serial_number="sn-roles", action=pb.COMMAND_ACTION_SLEEP)
    code, detail = client.refused("SendCommands", sleep, role="viewer")
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert detail == "role viewer may not send commands (needs operator)"
    code, _ = client.refused(
        "DeleteSensor", pb.DeleteSensorRequest(serial_number="sn-roles"), role="operator"
    )
    assert code is grpc.StatusCode.PERMISSION_DENIED
    code, _ = client.refused("ListApiKeys", pb.ListApiKeysRequest(), role="operator")
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert scalar(database.admin_url, "SELECT count(*) FROM commands") == 0
    assert client.call("GetSensor", pb.GetSensorRequest(serial_number="sn-roles"), role="viewer")


def test_unknown_sensor_is_not_found(client: Client) -> None:
    assert client.refused("GetSensor", pb.GetSensorRequest(serial_number="sn-nope")) == (
        grpc.StatusCode.NOT_FOUND,
        "no sensor with serial number 'sn-nope'",
    )
    code, _ = client.refused(
        "SendCommands",
        pb.SendCommandsRequest(serial_number="sn-nope", action=pb.COMMAND_ACTION_AWAKE),
    )
    assert code is grpc.StatusCode.NOT_FOUND


def test_invalid_commands_are_invalid_argument_and_not_recorded(
    client: Client, database: TestDatabase
) -> None:
    add_sensor(database.admin_url, "sn-bad")
    frequency = pb.COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY
    for request, detail in [
        (
            pb.SendCommandsRequest(serial_number="sn-bad", action=frequency, sample_frequency_hz=0),
            "sample_frequency_hz: sample_frequency_hz must be a finite number > 0",
        ),
        (
            pb.SendCommandsRequest(
                serial_number="sn-bad", target="pump-1", action=pb.COMMAND_ACTION_SLEEP
            ),
            "give exactly one of serial_number, target or all=true",
        ),
        (
            # Valid to the model, refused by the service layer (IOT_MAX_SAMPLE_FREQUENCY_HZ).
            pb.SendCommandsRequest(
                serial_number="sn-bad", action=frequency, sample_frequency_hz=1e9
            ),
            "sample_frequency_hz must be at most 25000 (got 1e+09)",
        ),
    ]:
        assert client.refused("SendCommands", request, role="operator") == (
            grpc.StatusCode.INVALID_ARGUMENT,
            detail,
        )
    assert scalar(database.admin_url, "SELECT count(*) FROM commands") == 0


def test_targets_are_created_listed_assigned_and_deleted(
    client: Client, database: TestDatabase
) -> None:
    add_sensor(database.admin_url, "sn-t")
    created = client.call(
        "CreateTarget",
        pb.CreateTargetRequest(name="pump-1", latitude=48.1, longitude=11.6),
        role="operator",
    )
    assert (created.name, created.latitude, created.longitude, created.sensor_count) == (
        "pump-1",
        48.1,
        11.6,
        0,
    )
    assert client.refused("CreateTarget", pb.CreateTargetRequest(name="pump-1")) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "a target named 'pump-1' exists already",
    )
    sensor = client.call(
        "AssignTarget", pb.AssignTargetRequest(serial_number="sn-t", target="pump-1")
    )
    assert sensor.target == "pump-1"
    listed = client.call("ListTargets", pb.ListTargetsRequest(), role="viewer")
    assert [(t.name, t.sensor_count) for t in listed.targets] == [("pump-1", 1)]
    page = client.call("ListSensors", pb.ListSensorsRequest(target="pump-1"), role="viewer")
    assert [s.serial_number for s in page.sensors] == ["sn-t"]
    assert not page.HasField("next_after")

    client.call("DeleteTarget", pb.DeleteTargetRequest(name="pump-1"), role="operator")
    assert client.refused("GetTarget", pb.GetTargetRequest(name="pump-1")) == (
        grpc.StatusCode.NOT_FOUND,
        "no target named 'pump-1'",
    )
    assert scalar(database.admin_url, "SELECT count(*) FROM targets") == 0
    sensor = client.call("GetSensor", pb.GetSensorRequest(serial_number="sn-t")).sensor
    assert not sensor.HasField("target")


def test_command_is_recorded_pending_and_published(
    client: Client, database: TestDatabase, amqp_url: str
) -> None:
    add_sensor(database.admin_url, "sn-cmd")
    sent = client.call(
        "SendCommands",
        pb.SendCommandsRequest(
            serial_number="sn-cmd", action=pb.COMMAND_ACTION_SLEEP, ttl_seconds=120
        ),
        role="operator",
    )
    (command,) = sent.commands
    assert command.status == pb.COMMAND_STATE_PENDING
    fetched = client.call(
        "GetCommand", pb.GetCommandRequest(command_id=command.command_id), role="viewer"
    )
    assert (fetched.status, fetched.action, fetched.issued_by) == (
        pb.COMMAND_STATE_PENDING,
        pb.COMMAND_ACTION_SLEEP,
        "test-operator",
    )
    assert fetched.expires_at.ToDatetime(UTC) - fetched.issued_at.ToDatetime(UTC) == timedelta(
        seconds=120
    )
    rows = query(
        database.admin_url,
        "SELECT id::text, request_id::text, action, status, issued_by FROM commands",
    )
    assert rows == [(command.command_id, sent.request_id, "sleep", "pending", "test-operator")]

    async def take() -> list[bytes]:
        async with Broker(amqp_url) as broker:
            return await broker.take_all(commands_queue("sn-cmd").name)

    (body,) = asyncio.run(take())
    message = SensorCommand.FromString(body)
    assert (message.command_id, message.WhichOneof("action")) == (command.command_id, "sleep")

    changed = client.call(
        "SendSensorCommand",
        pb.SendSensorCommandRequest(
            serial_number="sn-cmd",
            action=pb.COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY,
            sample_frequency_hz=50,
        ),
        role="operator",
    )
    assert changed.sample_frequency_hz == 50
    history = client.call(
        "ListSensorCommands", pb.ListSensorCommandsRequest(serial_number="sn-cmd"), role="viewer"
    )
    assert [c.command_id for c in history.commands] == [changed.command_id, command.command_id]
    detail = client.call("GetSensor", pb.GetSensorRequest(serial_number="sn-cmd"), role="viewer")
    assert detail.sensor.desired.asleep is True
    assert detail.sensor.desired.sample_frequency_hz == 50
    assert detail.sensor.in_sync is False
    assert len(detail.recent_commands) == 2


def test_measurements_logs_keys_and_deletion(client: Client, database: TestDatabase) -> None:
    sensor_id = add_sensor(database.admin_url, "sn-data")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    seed_telemetry(database.admin_url, sensor_id, start)
    since = start.isoformat()
    raw = client.call(
        "GetMeasurements",
        pb.GetMeasurementsRequest(serial_number="sn-data", since=since, limit=30),
        role="viewer",
    )
    assert [s.value for s in raw.samples] == list(range(30))
    assert raw.truncated is True
    assert raw.since.ToDatetime(UTC) == start
    bucketed = client.call(
        "GetMeasurements",
        pb.GetMeasurementsRequest(serial_number="sn-data", since=since, bucket="1s"),
    )
    assert bucketed.bucket == "1s"
    assert [b.count for b in bucketed.buckets] == [10] * 10
    latest = client.call(
        "GetLatestMeasurement", pb.GetLatestMeasurementRequest(serial_number="sn-data")
    )
    assert latest.value == 99
    code, detail = client.refused(
        "GetMeasurements", pb.GetMeasurementsRequest(serial_number="sn-data", since="40d")
    )
    assert (code, detail) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "the range may span at most 31 days",
    )
    logs = client.call(
        "GetLogs", pb.GetLogsRequest(serial_number="sn-data", level=log_pb2.LOG_LEVEL_WARNING)
    )
    assert [(line.level, line.message, line.serial_number) for line in logs.logs] == [
        (log_pb2.LOG_LEVEL_ERROR, "overheated", "sn-data")
    ]

    created = client.call(
        "CreateApiKey",
        pb.CreateApiKeyRequest(name="ci", role=pb.API_KEY_ROLE_VIEWER, expires_in_days=1),
    )
    assert client.call("WhoAmI", pb.WhoAmIRequest(), header=f"Bearer {created.key}").name == "ci"
    listed = client.call("ListApiKeys", pb.ListApiKeysRequest())
    assert "ci" in [key.name for key in listed.api_keys]
    client.call("RevokeApiKey", pb.RevokeApiKeyRequest(id=created.id))
    assert client.refused("WhoAmI", pb.WhoAmIRequest(), header=f"Bearer {created.key}") == (
        grpc.StatusCode.UNAUTHENTICATED,
        "API key revoked",
    )

    client.call("DeleteSensor", pb.DeleteSensorRequest(serial_number="sn-data"))
    assert scalar(database.admin_url, "SELECT count(*) FROM sensors") == 0


def test_health_is_serving_reflection_lists_the_gateway_and_it_stops_cleanly(
    client: Client,
) -> None:
    wait_until(lambda: client.health() == SERVING, 20, "the gateway to be SERVING")
    assert client.health("iot.v1.SensorGateway") == SERVING

    reflection: Any = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="iot.v1.SensorGateway"),
    ]
    listed, described = reflection.ServerReflectionInfo(iter(requests), timeout=CALL_TIMEOUT)
    names = {service.name for service in listed.list_services_response.service}
    assert {"iot.v1.SensorGateway", "grpc.health.v1.Health"} <= names
    # What grpcurl needs to describe the API: the file that declares it.
    assert described.file_descriptor_response.file_descriptor_proto

    # SIGTERM with a client still connected: both servers stop, the process exits cleanly.
    started = time.monotonic()
    assert client.gateway.process.stop() == 0
    assert time.monotonic() - started < 10
    assert '"service stopped"' in client.gateway.process.logs()


def test_unreachable_broker_is_unavailable_and_the_command_failed(
    gateway_factory: GatewayFactory, database: TestDatabase
) -> None:
    gateway = gateway_factory(
        IOT_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",
        IOT_PUBLISH_TIMEOUT_SECONDS="1",
    )
    add_sensor(database.admin_url, "sn-dark")
    for client in connect(gateway):
        code, detail = client.refused(
            "SendCommands",
            pb.SendCommandsRequest(serial_number="sn-dark", action=pb.COMMAND_ACTION_SLEEP),
            role="operator",
        )
        assert code is grpc.StatusCode.UNAVAILABLE
        assert detail.startswith("the broker did not accept the command")
        assert query(database.admin_url, "SELECT status, reason IS NOT NULL FROM commands") == [
            ("failed", True)
        ]
        # Readiness lacks the broker, and the health service says so.
        assert client.health() == NOT_SERVING


def test_a_grpc_port_in_use_fails_the_start(gateway: Gateway, services: Services) -> None:
    """gRPC would share a port with SO_REUSEPORT; a second gateway must not take half the calls."""
    taken = logged_port(gateway.process, "grpc_port")
    second = services.start("api-gateway", IOT_GRPC_PORT=str(taken))
    wait_until(lambda: not second.running(), 20, "the second gateway to give up")
    assert second.stop() != 0
    assert f"Failed to bind to address 0.0.0.0:{taken}" in second.logs()
    assert '"service starting"' not in second.logs()
