"""The gRPC transport against a fake service layer: every RPC of gateway.proto is served, every
public service operation is reachable, answers convert to proto without losing a field, and
errors become the right status with a one-line message."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, cast

import grpc
import pytest
from api_gateway import models
from api_gateway.auth import Principal
from api_gateway.errors import ServiceError, UnauthenticatedError
from api_gateway.rpc.convert import ConversionError, enum_number, enum_text, from_proto, to_proto
from api_gateway.rpc.servicer import SERVICE_NAME, STATUS, Context, GatewayServicer
from api_gateway.service import GatewayService, LogQuery, MeasurementQuery, SensorFilter
from google.protobuf.message import Message
from iot.v1 import gateway_pb2 as pb
from iot.v1 import log_pb2, sensor_pb2
from iot_service import ServiceMetrics
from pydantic import ValidationError

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
COMMAND_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
METHODS = pb.DESCRIPTOR.services_by_name["SensorGateway"].methods


class CallAbortedError(Exception):
    """What the fake context raises where grpc.aio would end the call."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class FakeContext:
    """The parts of grpc.aio.ServicerContext the servicer uses."""

    def __init__(self, authorization: str | None = "Bearer good") -> None:
        self._metadata = () if authorization is None else (("authorization", authorization),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise CallAbortedError(code, details)


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def exception(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def _command() -> models.Command:
    return models.Command(
        command_id=COMMAND_ID,
        request_id=uuid.uuid4(),
        serial_number="sn-1",
        action=models.Action.CHANGE_SAMPLE_FREQUENCY,
        sample_frequency_hz=50.0,
        status=models.CommandStatus.APPLIED,
        reason=None,
        issued_by="ops",
        issued_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        delivered_at=NOW,
        completed_at=None,
        reported=models.CommandReport(asleep=False, sample_frequency_hz=50.0),
    )


def _sensor() -> models.Sensor:
    return models.Sensor(
        serial_number="sn-1",
        kind="accelerometer",
        target=None,
        firmware_version="sim-0.1.0",
        registered_at=NOW,
        state=models.Presence.ASLEEP,
        online=True,
        last_seen_at=NOW,
        last_measurement_at=None,
        last_heartbeat_at=NOW,
        desired=models.DesiredState(asleep=True, sample_frequency_hz=None, updated_at=NOW),
        reported=models.ReportedState(asleep=True, sample_frequency_hz=10.0, updated_at=None),
        in_sync=True,
    )


def _target() -> models.Target:
    return models.Target(
        name="pump-1", latitude=48.1, longitude=11.6, created_at=NOW, sensor_count=2
    )


# One answer per public operation: every model the gRPC transport has to convert.
ANSWERS: dict[str, Callable[[], Any]] = {
    "who_am_i": lambda: models.WhoAmI(
        name="ops", role=models.Role.OPERATOR, prefix="abcdefghijkl", expires_at=None
    ),
    "list_sensors": lambda: models.SensorPage(sensors=[_sensor()], next_after="sn-1"),
    "get_sensor": lambda: models.SensorDetail(
        **_sensor().model_dump(), recent_commands=[_command()]
    ),
    "delete_sensor": lambda: None,
    "assign_target": _sensor,
    "send_commands": lambda: models.CommandBatch(request_id=uuid.uuid4(), commands=[_command()]),
    "send_sensor_command": _command,
    "get_command": _command,
    "list_sensor_commands": lambda: models.CommandList(commands=[_command()]),
    "list_targets": lambda: models.TargetList(targets=[_target()]),
    "get_target": _target,
    "create_target": _target,
    "delete_target": lambda: None,
    "measurements": lambda: models.Measurements(
        serial_number="sn-1",
        since=NOW - timedelta(minutes=10),
        until=NOW,
        bucket="1s",
        buckets=[models.Bucket(time=NOW, min=0, max=9, avg=4.5, count=10)],
        truncated=False,
    ),
    "latest_measurement": lambda: models.Sample(time=NOW, value=1.5),
    "logs": lambda: models.Logs(
        logs=[models.LogEntry(time=NOW, sequence=7, level="warning", message="hot")]
    ),
    "create_api_key": lambda: models.ApiKeyCreated(
        id=3,
        name="ci",
        role=models.Role.VIEWER,
        prefix="abcdefghijkl",
        created_at=NOW,
        expires_at=None,
        key="iot_abcdefghijkl_secret",
    ),
    "list_api_keys": lambda: models.ApiKeyList(
        api_keys=[
            models.ApiKeyInfo(
                id=3,
                name="ci",
                role=models.Role.ADMIN,
                prefix="abcdefghijkl",
                created_at=NOW,
                expires_at=None,
                revoked_at=NOW,
                last_used_at=None,
            )
        ]
    ),
    "revoke_api_key": lambda: None,
}

# A minimal valid request per RPC.
REQUESTS: dict[str, Message] = {
    "WhoAmI": pb.WhoAmIRequest(),
    "ListSensors": pb.ListSensorsRequest(),
    "GetSensor": pb.GetSensorRequest(serial_number="sn-1"),
    "DeleteSensor": pb.DeleteSensorRequest(serial_number="sn-1"),
    "AssignTarget": pb.AssignTargetRequest(serial_number="sn-1", target="pump-1"),
    "SendCommands": pb.SendCommandsRequest(all=True, action=pb.COMMAND_ACTION_SLEEP),
    "SendSensorCommand": pb.SendSensorCommandRequest(
        serial_number="sn-1", action=pb.COMMAND_ACTION_AWAKE
    ),
    "GetCommand": pb.GetCommandRequest(command_id=str(COMMAND_ID)),
    "ListSensorCommands": pb.ListSensorCommandsRequest(serial_number="sn-1"),
    "ListTargets": pb.ListTargetsRequest(),
    "GetTarget": pb.GetTargetRequest(name="pump-1"),
    "CreateTarget": pb.CreateTargetRequest(name="pump-1"),
    "DeleteTarget": pb.DeleteTargetRequest(name="pump-1"),
    "GetMeasurements": pb.GetMeasurementsRequest(serial_number="sn-1", bucket="1s"),
    "GetLatestMeasurement": pb.GetLatestMeasurementRequest(serial_number="sn-1"),
    "GetLogs": pb.GetLogsRequest(serial_number="sn-1"),
    "CreateApiKey": pb.CreateApiKeyRequest(name="ci", role=pb.API_KEY_ROLE_VIEWER),
    "ListApiKeys": pb.ListApiKeysRequest(),
    "RevokeApiKey": pb.RevokeApiKeyRequest(id=3),
}


@dataclass
class FakeService:
    """Records each operation called with its arguments and answers from ANSWERS."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    failure: BaseException | None = None

    async def authenticate(self, authorization: str | None) -> Principal:
        if authorization != "Bearer good":
            raise UnauthenticatedError("unknown API key")
        return Principal(1, "ops", models.Role.ADMIN, "abcdefghijkl", None)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        answer = ANSWERS[name]

        async def operation(principal: Principal, *args: Any) -> Any:
            self.calls.append((name, args))
            if self.failure is not None:
                raise self.failure
            return answer()

        return operation


def servicer(fake: FakeService, log: Log | None = None) -> GatewayServicer:
    return GatewayServicer(cast(GatewayService, fake), log or Log(), ServiceMetrics("test-gateway"))


async def call(
    target: GatewayServicer, method: str, request: Message, context: FakeContext | None = None
) -> Message:
    handler = getattr(target, method)
    answer: Message = await handler(request, cast(Context, context or FakeContext()))
    return answer


def _public_operations() -> set[str]:
    return {
        name
        for name, _ in inspect.getmembers(GatewayService, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "authenticate"
    }


def test_every_rpc_of_the_proto_is_defined_by_the_servicer() -> None:
    rpcs = {method.name for method in METHODS}
    # Defined on the class itself: the generated base class only answers UNIMPLEMENTED.
    defined = {name for name in vars(GatewayServicer) if name[:1].isupper()}
    assert rpcs == defined
    assert rpcs == set(REQUESTS)
    assert SERVICE_NAME == "iot.v1.SensorGateway"


@pytest.mark.parametrize("method", [m.name for m in METHODS])
async def test_each_rpc_calls_one_operation_and_answers_its_output_type(method: str) -> None:
    fake = FakeService()
    answer = await call(servicer(fake), method, REQUESTS[method])
    output = next(m for m in METHODS if m.name == method).output_type
    assert answer.DESCRIPTOR.full_name == output.full_name
    assert len(fake.calls) == 1


async def test_every_public_service_operation_is_reachable_from_grpc() -> None:
    fake = FakeService()
    target = servicer(fake)
    for method, request in REQUESTS.items():
        await call(target, method, request)
    assert {name for name, _ in fake.calls} == _public_operations()
    assert set(ANSWERS) == _public_operations()


async def test_requests_become_the_same_arguments_http_passes() -> None:
    fake = FakeService()
    target = servicer(fake)
    await call(target, "ListSensors", pb.ListSensorsRequest(state=pb.SENSOR_PRESENCE_ONLINE))
    await call(
        target,
        "GetMeasurements",
        pb.GetMeasurementsRequest(serial_number="sn-1", since="10m", limit=5),
    )
    await call(
        target, "GetLogs", pb.GetLogsRequest(serial_number="sn-1", level=log_pb2.LOG_LEVEL_WARNING)
    )
    await call(target, "ListSensorCommands", pb.ListSensorCommandsRequest(serial_number="sn-1"))
    await call(target, "AssignTarget", pb.AssignTargetRequest(serial_number="sn-1"))
    await call(
        target,
        "SendSensorCommand",
        pb.SendSensorCommandRequest(
            serial_number="sn-1",
            action=pb.COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY,
            sample_frequency_hz=50,
            ttl_seconds=60,
        ),
    )
    assert [args for _, args in fake.calls] == [
        (SensorFilter(state=models.Presence.ONLINE),),
        (MeasurementQuery(serial="sn-1", since="10m", limit=5),),
        (LogQuery(serial="sn-1", level=models.LogLevel.WARNING),),
        ("sn-1", models.DEFAULT_COMMAND_PAGE),
        ("sn-1", models.TargetAssignment(target=None)),
        (
            "sn-1",
            models.SensorCommandRequest(
                action=models.Action.CHANGE_SAMPLE_FREQUENCY, sample_frequency_hz=50, ttl_seconds=60
            ),
        ),
    ]


async def test_answers_keep_every_value() -> None:
    target = servicer(FakeService())
    detail = await call(target, "GetSensor", REQUESTS["GetSensor"])
    assert isinstance(detail, pb.GetSensorResponse)
    assert detail.sensor.kind == sensor_pb2.SENSOR_KIND_ACCELEROMETER
    assert detail.sensor.state == pb.SENSOR_PRESENCE_ASLEEP
    assert not detail.sensor.HasField("target")
    assert not detail.sensor.HasField("last_measurement_at")
    assert detail.sensor.last_seen_at.ToDatetime(UTC) == NOW
    assert detail.sensor.desired.asleep is True
    assert not detail.sensor.desired.HasField("sample_frequency_hz")
    assert not detail.sensor.reported.HasField("updated_at")
    (command,) = detail.recent_commands
    assert command.command_id == str(COMMAND_ID)
    assert command.action == pb.COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY
    assert command.status == pb.COMMAND_STATE_APPLIED
    assert command.sample_frequency_hz == 50.0
    assert not command.HasField("reason")
    assert command.reported.sample_frequency_hz == 50.0

    logs = await call(target, "GetLogs", REQUESTS["GetLogs"])
    assert isinstance(logs, pb.GetLogsResponse)
    (line,) = logs.logs
    assert (line.serial_number, line.sequence, line.level) == ("sn-1", 7, log_pb2.LOG_LEVEL_WARNING)

    data = await call(target, "GetMeasurements", REQUESTS["GetMeasurements"])
    assert isinstance(data, pb.GetMeasurementsResponse)
    assert data.bucket == "1s"
    assert not data.samples
    assert [(b.min, b.max, b.avg, b.count) for b in data.buckets] == [(0, 9, 4.5, 10)]


@pytest.mark.parametrize(
    ("request_", "detail"),
    [
        (
            pb.SendCommandsRequest(
                serial_number="sn-1",
                action=pb.COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY,
                sample_frequency_hz=0,
            ),
            "sample_frequency_hz: sample_frequency_hz must be a finite number > 0",
        ),
        (
            pb.SendCommandsRequest(serial_number="sn-1", all=True, action=pb.COMMAND_ACTION_SLEEP),
            "give exactly one of serial_number, target or all=true",
        ),
        (pb.SendCommandsRequest(all=True), "action: Input should be"),
        (
            pb.SendCommandsRequest(all=True, action=cast(pb.CommandAction, 99)),
            "action: Input should be",
        ),
        (
            pb.SendCommandsRequest(all=True, action=pb.COMMAND_ACTION_SLEEP, ttl_seconds=0),
            "ttl_seconds: Input should be greater than or equal to 1",
        ),
        (pb.ListSensorsRequest(limit=1001), "limit: Input should be less than or equal to 1000"),
        (pb.GetSensorRequest(serial_number="no/slash"), "serial_number: String should match"),
        (pb.GetCommandRequest(command_id="nope"), "command_id: Input should be a valid UUID"),
        (pb.RevokeApiKeyRequest(), "id: Input should be greater than or equal to 1"),
        (pb.CreateTargetRequest(name="t", latitude=1), "give both latitude and longitude"),
    ],
)
async def test_invalid_requests_are_invalid_argument_with_one_line(
    request_: Message, detail: str
) -> None:
    fake = FakeService()
    method = type(request_).__name__.removesuffix("Request")
    with pytest.raises(CallAbortedError) as aborted:
        await call(servicer(fake), method, request_)
    assert aborted.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert detail in aborted.value.details
    assert "\n" not in aborted.value.details
    assert fake.calls == []


async def test_authentication_comes_before_validation() -> None:
    fake = FakeService()
    for context in (FakeContext(None), FakeContext("Bearer bad")):
        with pytest.raises(CallAbortedError) as aborted:
            await call(servicer(fake), "GetCommand", pb.GetCommandRequest(), context)
        assert aborted.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert fake.calls == []


@pytest.mark.parametrize("kind", ServiceError.__subclasses__())
async def test_each_service_error_has_its_status_and_message(kind: type[ServiceError]) -> None:
    fake = FakeService(failure=kind("one line"))
    log = Log()
    with pytest.raises(CallAbortedError) as aborted:
        await call(servicer(fake, log), "WhoAmI", pb.WhoAmIRequest())
    assert aborted.value.code is STATUS[kind]
    assert aborted.value.details == "one line"
    assert log.events[-1] == (
        "grpc request",
        {
            "method": "WhoAmI",
            "code": STATUS[kind].name,
            "duration_ms": log.events[-1][1]["duration_ms"],
        },
    )


def _invalid_answer() -> ValidationError:
    try:
        models.Sample.model_validate({"time": "then"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize("bug", [KeyError("secret"), _invalid_answer()])
async def test_a_bug_is_internal_and_not_shown_to_the_caller(bug: Exception) -> None:
    """Including a ValidationError from inside the service: only requests are client errors."""
    log = Log()
    with pytest.raises(CallAbortedError) as aborted:
        await call(servicer(FakeService(failure=bug), log), "WhoAmI", pb.WhoAmIRequest())
    assert (aborted.value.code, aborted.value.details) == (
        grpc.StatusCode.INTERNAL,
        "internal error",
    )
    assert ("grpc request failed", {"method": "WhoAmI"}) in log.events


@pytest.mark.parametrize(
    ("model", "enum"),
    [
        (models.Presence, pb.SensorPresence.DESCRIPTOR),
        (models.Action, pb.CommandAction.DESCRIPTOR),
        (models.CommandStatus, pb.CommandState.DESCRIPTOR),
        (models.Role, pb.ApiKeyRole.DESCRIPTOR),
        (models.LogLevel, log_pb2.LogLevel.DESCRIPTOR),
    ],
)
def test_model_enums_map_onto_proto_enums_both_ways(model: Any, enum: Any) -> None:
    for value in model:
        number = enum_number(enum, value.value)
        assert number != 0, value
        assert enum_text(enum, number) == value.value
    assert len(enum.values) == len(model) + 1  # and UNSPECIFIED


def test_unset_fields_are_none_and_unknown_enum_numbers_pass_through() -> None:
    values = from_proto(pb.ListSensorsRequest(state=cast(pb.SensorPresence, 7), limit=0))
    assert values == {"target": None, "state": 7, "online": None, "limit": 0, "after": None}


def test_a_model_and_message_that_drifted_apart_fail_loudly() -> None:
    with pytest.raises(ConversionError, match="no field for \\['color'\\]"):
        to_proto({"time": NOW, "value": 1.0, "color": "red"}, pb.Sample)
    with pytest.raises(ConversionError, match="no value for \\['value'\\]"):
        to_proto({"time": NOW}, pb.Sample)
