"""The /api/v1 routes: parse the request, call one service operation, return its answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api_gateway.auth import Principal
from api_gateway.models import (
    DEFAULT_COMMAND_PAGE,
    MAX_API_KEY_ID,
    MAX_COMMAND_PAGE,
    MAX_LOG_LINES,
    MAX_SENSOR_PAGE,
    SERIAL_MAX_LENGTH,
    SERIAL_PATTERN,
    TARGET_PATTERN,
    Action,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    Command,
    CommandBatch,
    CommandList,
    CommandRequest,
    ErrorBody,
    LegacyFrequencyRequest,
    LogLevel,
    Logs,
    Measurements,
    Presence,
    Sample,
    Sensor,
    SensorCommandRequest,
    SensorDetail,
    SensorPage,
    Target,
    TargetAssignment,
    TargetCreate,
    TargetList,
    WhoAmI,
)
from api_gateway.service import GatewayService, LogQuery, MeasurementQuery, SensorFilter
from api_gateway.telemetry import MAX_RAW_ROWS

# Declared for the OpenAPI document; the header itself is parsed by the service layer, which
# gives the precise 401 reason (missing, not Bearer, malformed, unknown, expired, revoked).
_bearer = HTTPBearer(auto_error=False, description="an API key: Bearer iot_...")


async def _principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    service: GatewayService = request.app.state.service
    return await service.authenticate(request.headers.get("authorization"))


def _service(request: Request) -> GatewayService:
    service: GatewayService = request.app.state.service
    return service


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "the body is not valid JSON",
        401: "missing, malformed, unknown, expired or revoked API key",
        403: "the key's role may not do this",
        404: "not found",
        409: "exists already",
        422: "invalid input",
        503: "the broker or the database is unavailable",
    }
    return {code: {"model": ErrorBody, "description": meaning[code]} for code in (401, 403, *codes)}


Caller = Annotated[Principal, Depends(_principal)]
Service = Annotated[GatewayService, Depends(_service)]
SerialPath = Annotated[
    str, Path(pattern=SERIAL_PATTERN, max_length=SERIAL_MAX_LENGTH, examples=["sim-1hz"])
]
TargetPath = Annotated[str, Path(pattern=TARGET_PATTERN, examples=["pump-1"])]
Since = Annotated[str | None, Query(description="RFC 3339 time or a duration ago (10m)")]
Until = Annotated[str | None, Query(description="RFC 3339 time or a duration ago; now if absent")]

router = APIRouter()


@router.get("/whoami", tags=["api keys"], responses=errors(503))
async def whoami(service: Service, caller: Caller) -> WhoAmI:
    return await service.who_am_i(caller)


# -- sensors ---------------------------------------------------------------------------------


@router.get("/sensors", tags=["sensors"], responses=errors(404, 422, 503))
async def list_sensors(
    *,
    service: Service,
    caller: Caller,
    target: Annotated[str | None, Query(pattern=TARGET_PATTERN)] = None,
    state: Presence | None = None,
    online: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SENSOR_PAGE)] = 100,
    after: Annotated[str | None, Query(description="the `next_after` of the previous page")] = None,
) -> SensorPage:
    where = SensorFilter(target=target, state=state, online=online, limit=limit, after=after)
    return await service.list_sensors(caller, where)


@router.get("/sensors/{serial}", tags=["sensors"], responses=errors(404, 422, 503))
async def get_sensor(service: Service, caller: Caller, serial: SerialPath) -> SensorDetail:
    return await service.get_sensor(caller, serial)


@router.delete(
    "/sensors/{serial}", status_code=204, tags=["sensors"], responses=errors(404, 422, 503)
)
async def delete_sensor(service: Service, caller: Caller, serial: SerialPath) -> Response:
    await service.delete_sensor(caller, serial)
    return Response(status_code=204)


@router.put("/sensors/{serial}/target", tags=["targets"], responses=errors(400, 404, 422, 503))
async def assign_target(
    service: Service, caller: Caller, serial: SerialPath, assignment: TargetAssignment
) -> Sensor:
    return await service.assign_target(caller, serial, assignment)


# -- commands --------------------------------------------------------------------------------


@router.post("/commands", status_code=202, tags=["commands"], responses=errors(400, 404, 422, 503))
async def send_commands(service: Service, caller: Caller, request: CommandRequest) -> CommandBatch:
    """Send a command to one sensor, a target's sensors or all sensors."""
    return await service.send_commands(caller, request)


@router.post(
    "/sensors/{serial}/commands",
    status_code=202,
    tags=["commands"],
    responses=errors(400, 404, 422, 503),
)
async def send_sensor_command(
    service: Service, caller: Caller, serial: SerialPath, request: SensorCommandRequest
) -> Command:
    return await service.send_sensor_command(caller, serial, request)


@router.put(
    "/sensors/{serial}/sleep", status_code=202, tags=["commands"], responses=errors(404, 422, 503)
)
async def legacy_sleep(service: Service, caller: Caller, serial: SerialPath) -> Command:
    """The Go original's route: put one sensor to sleep."""
    return await service.send_sensor_command(
        caller, serial, SensorCommandRequest(action=Action.SLEEP)
    )


@router.put(
    "/sensors/{serial}/awake", status_code=202, tags=["commands"], responses=errors(404, 422, 503)
)
async def legacy_awake(service: Service, caller: Caller, serial: SerialPath) -> Command:
    """The Go original's route: wake one sensor."""
    return await service.send_sensor_command(
        caller, serial, SensorCommandRequest(action=Action.AWAKE)
    )


@router.put(
    "/sensors/{serial}/change-sample-frequency",
    status_code=202,
    tags=["commands"],
    responses=errors(400, 404, 422, 503),
)
async def legacy_change_sample_frequency(
    service: Service, caller: Caller, serial: SerialPath, body: LegacyFrequencyRequest
) -> Command:
    """The Go original's route and body: change one sensor's sample frequency."""
    request = SensorCommandRequest(
        action=Action.CHANGE_SAMPLE_FREQUENCY, sample_frequency_hz=body.new_sample_frequency
    )
    return await service.send_sensor_command(caller, serial, request)


@router.get("/commands/{command_id}", tags=["commands"], responses=errors(404, 422, 503))
async def get_command(service: Service, caller: Caller, command_id: uuid.UUID) -> Command:
    return await service.get_command(caller, command_id)


@router.get("/sensors/{serial}/commands", tags=["commands"], responses=errors(404, 422, 503))
async def list_sensor_commands(
    service: Service,
    caller: Caller,
    serial: SerialPath,
    limit: Annotated[int, Query(ge=1, le=MAX_COMMAND_PAGE)] = DEFAULT_COMMAND_PAGE,
) -> CommandList:
    return await service.list_sensor_commands(caller, serial, limit)


# -- targets ---------------------------------------------------------------------------------


@router.get("/targets", tags=["targets"], responses=errors(503))
async def list_targets(service: Service, caller: Caller) -> TargetList:
    return await service.list_targets(caller)


@router.post("/targets", status_code=201, tags=["targets"], responses=errors(400, 409, 422, 503))
async def create_target(service: Service, caller: Caller, new: TargetCreate) -> Target:
    return await service.create_target(caller, new)


@router.get("/targets/{name}", tags=["targets"], responses=errors(404, 422, 503))
async def get_target(service: Service, caller: Caller, name: TargetPath) -> Target:
    return await service.get_target(caller, name)


@router.delete(
    "/targets/{name}", status_code=204, tags=["targets"], responses=errors(404, 422, 503)
)
async def delete_target(service: Service, caller: Caller, name: TargetPath) -> Response:
    """Delete a target; its sensors become unassigned."""
    await service.delete_target(caller, name)
    return Response(status_code=204)


# -- telemetry -------------------------------------------------------------------------------


@router.get("/sensors/{serial}/measurements", tags=["data"], responses=errors(404, 422, 503))
async def measurements(
    *,
    service: Service,
    caller: Caller,
    serial: SerialPath,
    since: Since = None,
    until: Until = None,
    bucket: Annotated[
        str | None, Query(description="bucket width (500ms, 1s, 5m, 1h); raw samples if absent")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RAW_ROWS, description="raw samples at most")] = 10_000,
) -> Measurements:
    query = MeasurementQuery(serial=serial, since=since, until=until, bucket=bucket, limit=limit)
    return await service.measurements(caller, query)


@router.get("/sensors/{serial}/measurements/latest", tags=["data"], responses=errors(404, 422, 503))
async def latest_measurement(service: Service, caller: Caller, serial: SerialPath) -> Sample:
    return await service.latest_measurement(caller, serial)


@router.get("/sensors/{serial}/logs", tags=["data"], responses=errors(404, 422, 503))
async def logs(
    *,
    service: Service,
    caller: Caller,
    serial: SerialPath,
    level: Annotated[LogLevel, Query(description="the lowest level included")] = LogLevel.DEBUG,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_LINES)] = 1000,
) -> Logs:
    query = LogQuery(serial=serial, level=level, since=since, until=until, limit=limit)
    return await service.logs(caller, query)


# -- API keys --------------------------------------------------------------------------------


@router.get("/api-keys", tags=["api keys"], responses=errors(503))
async def list_api_keys(service: Service, caller: Caller) -> ApiKeyList:
    return await service.list_api_keys(caller)


@router.post("/api-keys", status_code=201, tags=["api keys"], responses=errors(400, 422, 503))
async def create_api_key(
    service: Service, caller: Caller, new: Annotated[ApiKeyCreate, Body()]
) -> ApiKeyCreated:
    return await service.create_api_key(caller, new)


@router.delete(
    "/api-keys/{key_id}", status_code=204, tags=["api keys"], responses=errors(404, 422, 503)
)
async def revoke_api_key(
    service: Service, caller: Caller, key_id: Annotated[int, Path(ge=1, le=MAX_API_KEY_ID)]
) -> Response:
    await service.revoke_api_key(caller, key_id)
    return Response(status_code=204)
