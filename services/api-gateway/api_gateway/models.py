"""The API's requests and answers, shared by HTTP (as JSON schemas) and gRPC (mapped to proto).

Validation that needs no database lives here, so both transports refuse the same input alike.
"""

from __future__ import annotations

import enum
import math
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# At most 64 of [A-Za-z0-9-] with at least one letter (max_length does the counting).
SERIAL_PATTERN = r"^[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*$"
SERIAL_MAX_LENGTH = 64
TARGET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Serial = Annotated[
    str, Field(pattern=SERIAL_PATTERN, max_length=SERIAL_MAX_LENGTH, examples=["sim-1hz"])
]
TargetName = Annotated[str, Field(pattern=TARGET_PATTERN, examples=["pump-1"])]
MAX_TTL_SECONDS = 86_400
# Bounds of the listing parameters: HTTP query parameters and gRPC request fields alike.
MAX_SENSOR_PAGE = 1000
MAX_COMMAND_PAGE = 1000
DEFAULT_COMMAND_PAGE = 20
MAX_LOG_LINES = 10_000
# api_keys.id is a PostgreSQL integer: a larger id is a client error, not a database error.
MAX_API_KEY_ID = 2**31 - 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Presence(enum.StrEnum):
    ONLINE = "online"
    ASLEEP = "asleep"
    OFFLINE = "offline"


class Action(enum.StrEnum):
    SLEEP = "sleep"
    AWAKE = "awake"
    CHANGE_SAMPLE_FREQUENCY = "change_sample_frequency"


class CommandStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class DesiredState(_Model):
    asleep: bool | None = Field(description="null until a sleep or awake command was sent")
    sample_frequency_hz: float | None
    updated_at: datetime | None


class ReportedState(_Model):
    asleep: bool
    sample_frequency_hz: float
    updated_at: datetime | None = Field(description="the sensor's time of its latest report")


class CommandReport(_Model):
    asleep: bool
    sample_frequency_hz: float


class Command(_Model):
    command_id: uuid.UUID
    request_id: uuid.UUID
    serial_number: str
    action: Action
    sample_frequency_hz: float | None
    status: CommandStatus
    reason: str | None
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    completed_at: datetime | None
    reported: CommandReport | None = Field(description="from the sensor's outcome")


class Sensor(_Model):
    serial_number: str
    kind: str
    target: str | None
    firmware_version: str | None
    registered_at: datetime
    state: Presence
    online: bool
    last_seen_at: datetime | None
    last_measurement_at: datetime | None
    last_heartbeat_at: datetime | None
    desired: DesiredState
    reported: ReportedState
    in_sync: bool = Field(description="false while a desired value differs from the reported one")


class SensorDetail(Sensor):
    recent_commands: list[Command]


class SensorPage(_Model):
    sensors: list[Sensor]
    next_after: str | None = Field(description="pass as `after` to get the next page")


class SensorCommandRequest(_Model):
    action: Action
    sample_frequency_hz: float | None = Field(
        None, description="required with change_sample_frequency, refused otherwise"
    )
    ttl_seconds: int | None = Field(None, ge=1, le=MAX_TTL_SECONDS)

    @field_validator("sample_frequency_hz")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("sample_frequency_hz must be a finite number > 0")
        return value

    @model_validator(mode="after")
    def _frequency_with_its_action(self) -> SensorCommandRequest:
        wants = self.action is Action.CHANGE_SAMPLE_FREQUENCY
        if wants and self.sample_frequency_hz is None:
            raise ValueError("change_sample_frequency needs sample_frequency_hz")
        if not wants and self.sample_frequency_hz is not None:
            raise ValueError(f"{self.action.value} takes no sample_frequency_hz")
        return self


class CommandRequest(SensorCommandRequest):
    serial_number: Serial | None = None
    target: TargetName | None = None
    all: bool = Field(False, description="send to every sensor")

    @model_validator(mode="after")
    def _one_selector(self) -> CommandRequest:
        chosen = [self.serial_number is not None, self.target is not None, self.all]
        if sum(chosen) != 1:
            raise ValueError("give exactly one of serial_number, target or all=true")
        return self


class LegacyFrequencyRequest(_Model):
    """The Go original's body for change-sample-frequency."""

    new_sample_frequency: float

    @field_validator("new_sample_frequency")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError("new_sample_frequency must be a finite number > 0")
        return value


class CommandBatch(_Model):
    request_id: uuid.UUID
    commands: list[Command]


class CommandList(_Model):
    commands: list[Command]


class Target(_Model):
    name: str
    latitude: float | None
    longitude: float | None
    created_at: datetime
    sensor_count: int


class TargetCreate(_Model):
    name: TargetName
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_or_neither(self) -> TargetCreate:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class TargetList(_Model):
    targets: list[Target]


class TargetAssignment(_Model):
    target: TargetName | None = Field(description="null unassigns the sensor")


class Sample(_Model):
    time: datetime
    value: float


class Bucket(_Model):
    time: datetime = Field(description="start of the bucket")
    min: float
    max: float
    avg: float
    count: int


class Measurements(_Model):
    serial_number: str
    since: datetime
    until: datetime
    bucket: str | None
    samples: list[Sample] | None = None
    buckets: list[Bucket] | None = None
    truncated: bool = Field(description="more rows exist than `limit` allowed")


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogEntry(_Model):
    time: datetime
    sequence: int
    level: str
    message: str


class Logs(_Model):
    logs: list[LogEntry]


class WhoAmI(_Model):
    name: str
    role: Role
    prefix: str
    expires_at: datetime | None


class ApiKeyCreate(_Model):
    name: str = Field(min_length=1, max_length=128)
    role: Role
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class ApiKeyInfo(_Model):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(_Model):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    key: str = Field(description="the key itself, shown only in this answer")


class ApiKeyList(_Model):
    api_keys: list[ApiKeyInfo]


class ErrorBody(_Model):
    detail: str
