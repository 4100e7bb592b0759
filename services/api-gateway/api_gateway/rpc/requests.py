"""The gRPC requests that HTTP spreads over paths and query parameters, as pydantic models.

A request with a body on HTTP maps onto the same model there (CommandRequest, TargetCreate, ...).
What HTTP takes from the path or the query string is validated here with the same types and
bounds (models.py), and then handed to the service layer in the same shape the routes build:
unset fields keep the service's defaults, as absent query parameters do.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api_gateway.errors import InvalidArgumentError
from api_gateway.models import (
    DEFAULT_COMMAND_PAGE,
    MAX_API_KEY_ID,
    MAX_COMMAND_PAGE,
    MAX_LOG_LINES,
    MAX_SENSOR_PAGE,
    LogLevel,
    Presence,
    Serial,
    TargetName,
)
from api_gateway.rpc.convert import from_proto
from api_gateway.service import LogQuery, MeasurementQuery, SensorFilter
from api_gateway.telemetry import MAX_RAW_ROWS
from api_gateway.validation import describe_validation

T = TypeVar("T", bound=BaseModel)


def parse(model: type[T], source: Message | Mapping[str, Any]) -> T:
    """A request (or some of its fields) as model; InvalidArgumentError if invalid.

    Only here does a pydantic ValidationError mean bad input: one raised later, while the
    service builds an answer, is a bug and must surface as one (INTERNAL, like HTTP's 500).
    """
    values = from_proto(source) if isinstance(source, Message) else source
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidArgumentError(describe_validation(exc.errors())) from None


def _given(model: BaseModel) -> dict[str, Any]:
    # None is what an unset optional field becomes: leave it to the service's default.
    return model.model_dump(exclude_none=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SensorRef(_Request):
    """A sensor, as HTTP's {serial} path segment."""

    serial_number: Serial


class TargetRef(_Request):
    """A target, as HTTP's {name} path segment."""

    name: TargetName


class CommandRef(_Request):
    """A command, as HTTP's {command_id} path segment."""

    command_id: uuid.UUID


class ApiKeyRef(_Request):
    """An API key, as HTTP's {key_id} path segment."""

    id: Annotated[int, Field(ge=1, le=MAX_API_KEY_ID)]


class SensorQuery(_Request):
    """ListSensorsRequest: GET /sensors's query parameters."""

    target: TargetName | None
    state: Presence | None
    online: bool | None
    limit: Annotated[int, Field(ge=1, le=MAX_SENSOR_PAGE)] | None
    after: str | None

    def where(self) -> SensorFilter:
        return SensorFilter(**_given(self))


class SensorCommandsQuery(_Request):
    """ListSensorCommandsRequest: GET /sensors/{serial}/commands."""

    serial_number: Serial
    limit: Annotated[int, Field(ge=1, le=MAX_COMMAND_PAGE)] | None

    @property
    def page(self) -> int:
        return DEFAULT_COMMAND_PAGE if self.limit is None else self.limit


class MeasurementsQuery(_Request):
    """GetMeasurementsRequest: GET /sensors/{serial}/measurements."""

    serial_number: Serial
    since: str | None
    until: str | None
    bucket: str | None
    limit: Annotated[int, Field(ge=1, le=MAX_RAW_ROWS)] | None

    def query(self) -> MeasurementQuery:
        given = _given(self)
        return MeasurementQuery(serial=given.pop("serial_number"), **given)


class LogsQuery(_Request):
    """GetLogsRequest: GET /sensors/{serial}/logs."""

    serial_number: Serial
    level: LogLevel | None
    since: str | None
    until: str | None
    limit: Annotated[int, Field(ge=1, le=MAX_LOG_LINES)] | None

    def query(self) -> LogQuery:
        given = _given(self)
        return LogQuery(serial=given.pop("serial_number"), **given)


def pop_serial(values: dict[str, Any]) -> str:
    """Validate and remove serial_number from a request whose rest is an HTTP body model."""
    return parse(SensorRef, {"serial_number": values.pop("serial_number")}).serial_number
