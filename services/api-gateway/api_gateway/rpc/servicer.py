"""The gRPC transport: iot.v1.SensorGateway, each RPC one call of the service layer.

Every RPC goes the same way (see `_rpc`): the `authorization` metadata is checked by the service
layer, the request becomes the pydantic model HTTP uses (invalid input: InvalidArgumentError with
HTTP's one-line description), the one service operation runs, and its answer becomes the proto
message. Errors leave as the status the ServiceError stands for, with the same one-line message
HTTP puts in `detail`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from iot.v1 import gateway_pb2 as pb
from iot.v1.gateway_pb2_grpc import SensorGatewayServicer
from iot_service import ServiceMetrics
from typing_extensions import override

from api_gateway.auth import Principal
from api_gateway.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
    UnauthenticatedError,
    UnavailableError,
)
from api_gateway.models import (
    ApiKeyCreate,
    CommandRequest,
    SensorCommandRequest,
    TargetAssignment,
    TargetCreate,
)
from api_gateway.rpc.convert import from_proto, to_proto
from api_gateway.rpc.requests import (
    ApiKeyRef,
    CommandRef,
    LogsQuery,
    MeasurementsQuery,
    SensorCommandsQuery,
    SensorQuery,
    SensorRef,
    TargetRef,
    parse,
    pop_serial,
)
from api_gateway.service import GatewayService

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SensorGateway"].full_name
STATUS = {
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    ConflictError: grpc.StatusCode.ALREADY_EXISTS,
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
}

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
Context = grpc.aio.ServicerContext[Any, Any]


def status_of(error: ServiceError) -> grpc.StatusCode:
    """The gRPC status a service error stands for (UNKNOWN for a kind without one: a bug)."""
    return next(
        (code for kind, code in STATUS.items() if isinstance(error, kind)),
        grpc.StatusCode.UNKNOWN,
    )


def authorization(context: Context) -> str | None:
    """The `authorization` metadata value (gRPC lower-cases metadata keys)."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode(errors="replace")
    return None


def _rpc(
    handle: Callable[[GatewayServicer, Request, Principal], Awaitable[Response]],
) -> Callable[[GatewayServicer, Request, Context], Awaitable[Response]]:
    """Authenticate, run one RPC, translate its errors, and count and log it."""
    method = handle.__name__

    @functools.wraps(handle)
    async def rpc(self: GatewayServicer, request: Request, context: Context) -> Response:
        started = time.perf_counter()
        try:
            # Authentication first, as on HTTP: an anonymous caller learns nothing about input.
            caller = await self._service.authenticate(authorization(context))
            answer = await handle(self, request, caller)
        except ServiceError as exc:
            code, detail = status_of(exc), str(exc)
        except Exception:
            # A bug: logged with its traceback here, never shown to the caller.
            self._log.exception("grpc request failed", method=method)
            code, detail = grpc.StatusCode.INTERNAL, "internal error"
        else:
            self._observe(method, grpc.StatusCode.OK, started)
            return answer
        self._observe(method, code, started)
        await context.abort(code, detail)

    return rpc


class GatewayServicer(SensorGatewayServicer):
    """iot.v1.SensorGateway over GatewayService; every RPC of the proto is defined here."""

    def __init__(self, service: GatewayService, log: Any, metrics: ServiceMetrics) -> None:
        self._service = service
        self._log = log
        self._requests = metrics.counter(
            "grpc_requests", "gRPC requests answered", ["method", "code"]
        )
        self._seconds = metrics.histogram(
            "grpc_request_seconds", "gRPC request duration", labels=["method"]
        )

    def _observe(self, method: str, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._requests.labels(method, code.name).inc()
        self._seconds.labels(method).observe(elapsed)
        self._log.info(
            "grpc request", method=method, code=code.name, duration_ms=round(elapsed * 1000, 1)
        )

    @override
    @_rpc
    async def WhoAmI(self, request: pb.WhoAmIRequest, caller: Principal) -> pb.WhoAmIResponse:
        return to_proto(await self._service.who_am_i(caller), pb.WhoAmIResponse)

    # -- sensors ---------------------------------------------------------------------------

    @override
    @_rpc
    async def ListSensors(
        self, request: pb.ListSensorsRequest, caller: Principal
    ) -> pb.ListSensorsResponse:
        where = parse(SensorQuery, request).where()
        return to_proto(await self._service.list_sensors(caller, where), pb.ListSensorsResponse)

    @override
    @_rpc
    async def GetSensor(
        self, request: pb.GetSensorRequest, caller: Principal
    ) -> pb.GetSensorResponse:
        serial = parse(SensorRef, request).serial_number
        # HTTP flattens the sensor and its recent commands into one object; proto nests them.
        sensor = (await self._service.get_sensor(caller, serial)).model_dump()
        recent = sensor.pop("recent_commands")
        return to_proto({"sensor": sensor, "recent_commands": recent}, pb.GetSensorResponse)

    @override
    @_rpc
    async def DeleteSensor(
        self, request: pb.DeleteSensorRequest, caller: Principal
    ) -> pb.DeleteSensorResponse:
        await self._service.delete_sensor(caller, parse(SensorRef, request).serial_number)
        return pb.DeleteSensorResponse()

    @override
    @_rpc
    async def AssignTarget(self, request: pb.AssignTargetRequest, caller: Principal) -> pb.Sensor:
        values = from_proto(request)
        serial = pop_serial(values)
        assignment = parse(TargetAssignment, values)
        return to_proto(await self._service.assign_target(caller, serial, assignment), pb.Sensor)

    # -- commands --------------------------------------------------------------------------

    @override
    @_rpc
    async def SendCommands(
        self, request: pb.SendCommandsRequest, caller: Principal
    ) -> pb.SendCommandsResponse:
        batch = await self._service.send_commands(caller, parse(CommandRequest, request))
        return to_proto(batch, pb.SendCommandsResponse)

    @override
    @_rpc
    async def SendSensorCommand(
        self, request: pb.SendSensorCommandRequest, caller: Principal
    ) -> pb.Command:
        values = from_proto(request)
        serial = pop_serial(values)
        command = parse(SensorCommandRequest, values)
        return to_proto(
            await self._service.send_sensor_command(caller, serial, command), pb.Command
        )

    @override
    @_rpc
    async def GetCommand(self, request: pb.GetCommandRequest, caller: Principal) -> pb.Command:
        command_id = parse(CommandRef, request).command_id
        return to_proto(await self._service.get_command(caller, command_id), pb.Command)

    @override
    @_rpc
    async def ListSensorCommands(
        self, request: pb.ListSensorCommandsRequest, caller: Principal
    ) -> pb.ListSensorCommandsResponse:
        query = parse(SensorCommandsQuery, request)
        commands = await self._service.list_sensor_commands(caller, query.serial_number, query.page)
        return to_proto(commands, pb.ListSensorCommandsResponse)

    # -- targets ---------------------------------------------------------------------------

    @override
    @_rpc
    async def ListTargets(
        self, request: pb.ListTargetsRequest, caller: Principal
    ) -> pb.ListTargetsResponse:
        return to_proto(await self._service.list_targets(caller), pb.ListTargetsResponse)

    @override
    @_rpc
    async def GetTarget(self, request: pb.GetTargetRequest, caller: Principal) -> pb.Target:
        name = parse(TargetRef, request).name
        return to_proto(await self._service.get_target(caller, name), pb.Target)

    @override
    @_rpc
    async def CreateTarget(self, request: pb.CreateTargetRequest, caller: Principal) -> pb.Target:
        new = parse(TargetCreate, request)
        return to_proto(await self._service.create_target(caller, new), pb.Target)

    @override
    @_rpc
    async def DeleteTarget(
        self, request: pb.DeleteTargetRequest, caller: Principal
    ) -> pb.DeleteTargetResponse:
        await self._service.delete_target(caller, parse(TargetRef, request).name)
        return pb.DeleteTargetResponse()

    # -- telemetry -------------------------------------------------------------------------

    @override
    @_rpc
    async def GetMeasurements(
        self, request: pb.GetMeasurementsRequest, caller: Principal
    ) -> pb.GetMeasurementsResponse:
        query = parse(MeasurementsQuery, request).query()
        answer = await self._service.measurements(caller, query)
        return to_proto(answer, pb.GetMeasurementsResponse)

    @override
    @_rpc
    async def GetLatestMeasurement(
        self, request: pb.GetLatestMeasurementRequest, caller: Principal
    ) -> pb.Sample:
        serial = parse(SensorRef, request).serial_number
        return to_proto(await self._service.latest_measurement(caller, serial), pb.Sample)

    @override
    @_rpc
    async def GetLogs(self, request: pb.GetLogsRequest, caller: Principal) -> pb.GetLogsResponse:
        query = parse(LogsQuery, request).query()
        logs = (await self._service.logs(caller, query)).model_dump()["logs"]
        # Each line is an iot.v1.SensorLog, which names its sensor.
        lines = [{**line, "serial_number": query.serial} for line in logs]
        return to_proto({"logs": lines}, pb.GetLogsResponse)

    # -- API keys --------------------------------------------------------------------------

    @override
    @_rpc
    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, caller: Principal
    ) -> pb.CreateApiKeyResponse:
        created = await self._service.create_api_key(caller, parse(ApiKeyCreate, request))
        return to_proto(created, pb.CreateApiKeyResponse)

    @override
    @_rpc
    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, caller: Principal
    ) -> pb.ListApiKeysResponse:
        return to_proto(await self._service.list_api_keys(caller), pb.ListApiKeysResponse)

    @override
    @_rpc
    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, caller: Principal
    ) -> pb.RevokeApiKeyResponse:
        await self._service.revoke_api_key(caller, parse(ApiKeyRef, request).id)
        return pb.RevokeApiKeyResponse()
