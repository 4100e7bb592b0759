import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from iot.v1 import command_pb2 as _command_pb2
from iot.v1 import log_pb2 as _log_pb2
from iot.v1 import sensor_pb2 as _sensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApiKeyRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_KEY_ROLE_UNSPECIFIED: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_VIEWER: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_OPERATOR: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_ADMIN: _ClassVar[ApiKeyRole]

class SensorPresence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSOR_PRESENCE_UNSPECIFIED: _ClassVar[SensorPresence]
    SENSOR_PRESENCE_ONLINE: _ClassVar[SensorPresence]
    SENSOR_PRESENCE_ASLEEP: _ClassVar[SensorPresence]
    SENSOR_PRESENCE_OFFLINE: _ClassVar[SensorPresence]

class CommandAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_ACTION_UNSPECIFIED: _ClassVar[CommandAction]
    COMMAND_ACTION_SLEEP: _ClassVar[CommandAction]
    COMMAND_ACTION_AWAKE: _ClassVar[CommandAction]
    COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY: _ClassVar[CommandAction]

class CommandState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_STATE_UNSPECIFIED: _ClassVar[CommandState]
    COMMAND_STATE_PENDING: _ClassVar[CommandState]
    COMMAND_STATE_DELIVERED: _ClassVar[CommandState]
    COMMAND_STATE_APPLIED: _ClassVar[CommandState]
    COMMAND_STATE_REJECTED: _ClassVar[CommandState]
    COMMAND_STATE_EXPIRED: _ClassVar[CommandState]
    COMMAND_STATE_FAILED: _ClassVar[CommandState]
API_KEY_ROLE_UNSPECIFIED: ApiKeyRole
API_KEY_ROLE_VIEWER: ApiKeyRole
API_KEY_ROLE_OPERATOR: ApiKeyRole
API_KEY_ROLE_ADMIN: ApiKeyRole
SENSOR_PRESENCE_UNSPECIFIED: SensorPresence
SENSOR_PRESENCE_ONLINE: SensorPresence
SENSOR_PRESENCE_ASLEEP: SensorPresence
SENSOR_PRESENCE_OFFLINE: SensorPresence
COMMAND_ACTION_UNSPECIFIED: CommandAction
COMMAND_ACTION_SLEEP: CommandAction
COMMAND_ACTION_AWAKE: CommandAction
COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY: CommandAction
COMMAND_STATE_UNSPECIFIED: CommandState
COMMAND_STATE_PENDING: CommandState
COMMAND_STATE_DELIVERED: CommandState
COMMAND_STATE_APPLIED: CommandState
COMMAND_STATE_REJECTED: CommandState
COMMAND_STATE_EXPIRED: CommandState
COMMAND_STATE_FAILED: CommandState

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("name", "role", "prefix", "expires_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: ApiKeyRole
    prefix: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., prefix: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DesiredState(_message.Message):
    __slots__ = ("asleep", "sample_frequency_hz", "updated_at")
    ASLEEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    asleep: bool
    sample_frequency_hz: float
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, asleep: _Optional[bool] = ..., sample_frequency_hz: _Optional[float] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SensorReportedState(_message.Message):
    __slots__ = ("asleep", "sample_frequency_hz", "updated_at")
    ASLEEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    asleep: bool
    sample_frequency_hz: float
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, asleep: _Optional[bool] = ..., sample_frequency_hz: _Optional[float] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Sensor(_message.Message):
    __slots__ = ("serial_number", "kind", "target", "firmware_version", "registered_at", "state", "online", "last_seen_at", "last_measurement_at", "last_heartbeat_at", "desired", "reported", "in_sync")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_MEASUREMENT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    kind: _sensor_pb2.SensorKind
    target: str
    firmware_version: str
    registered_at: _timestamp_pb2.Timestamp
    state: SensorPresence
    online: bool
    last_seen_at: _timestamp_pb2.Timestamp
    last_measurement_at: _timestamp_pb2.Timestamp
    last_heartbeat_at: _timestamp_pb2.Timestamp
    desired: DesiredState
    reported: SensorReportedState
    in_sync: bool
    def __init__(self, serial_number: _Optional[str] = ..., kind: _Optional[_Union[_sensor_pb2.SensorKind, str]] = ..., target: _Optional[str] = ..., firmware_version: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[SensorPresence, str]] = ..., online: _Optional[bool] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_measurement_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., desired: _Optional[_Union[DesiredState, _Mapping]] = ..., reported: _Optional[_Union[SensorReportedState, _Mapping]] = ..., in_sync: _Optional[bool] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("command_id", "request_id", "serial_number", "action", "sample_frequency_hz", "status", "reason", "issued_by", "issued_at", "expires_at", "delivered_at", "completed_at", "reported")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ISSUED_BY_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    request_id: str
    serial_number: str
    action: CommandAction
    sample_frequency_hz: float
    status: CommandState
    reason: str
    issued_by: str
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    reported: _command_pb2.ReportedState
    def __init__(self, command_id: _Optional[str] = ..., request_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., action: _Optional[_Union[CommandAction, str]] = ..., sample_frequency_hz: _Optional[float] = ..., status: _Optional[_Union[CommandState, str]] = ..., reason: _Optional[str] = ..., issued_by: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reported: _Optional[_Union[_command_pb2.ReportedState, _Mapping]] = ...) -> None: ...

class ListSensorsRequest(_message.Message):
    __slots__ = ("target", "state", "online", "limit", "after")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    target: str
    state: SensorPresence
    online: bool
    limit: int
    after: str
    def __init__(self, target: _Optional[str] = ..., state: _Optional[_Union[SensorPresence, str]] = ..., online: _Optional[bool] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListSensorsResponse(_message.Message):
    __slots__ = ("sensors", "next_after")
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    sensors: _containers.RepeatedCompositeFieldContainer[Sensor]
    next_after: str
    def __init__(self, sensors: _Optional[_Iterable[_Union[Sensor, _Mapping]]] = ..., next_after: _Optional[str] = ...) -> None: ...

class GetSensorRequest(_message.Message):
    __slots__ = ("serial_number",)
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    def __init__(self, serial_number: _Optional[str] = ...) -> None: ...

class GetSensorResponse(_message.Message):
    __slots__ = ("sensor", "recent_commands")
    SENSOR_FIELD_NUMBER: _ClassVar[int]
    RECENT_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    sensor: Sensor
    recent_commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, sensor: _Optional[_Union[Sensor, _Mapping]] = ..., recent_commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...

class DeleteSensorRequest(_message.Message):
    __slots__ = ("serial_number",)
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    def __init__(self, serial_number: _Optional[str] = ...) -> None: ...

class DeleteSensorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AssignTargetRequest(_message.Message):
    __slots__ = ("serial_number", "target")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    target: str
    def __init__(self, serial_number: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class SendCommandsRequest(_message.Message):
    __slots__ = ("serial_number", "target", "all", "action", "sample_frequency_hz", "ttl_seconds")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    target: str
    all: bool
    action: CommandAction
    sample_frequency_hz: float
    ttl_seconds: int
    def __init__(self, serial_number: _Optional[str] = ..., target: _Optional[str] = ..., all: _Optional[bool] = ..., action: _Optional[_Union[CommandAction, str]] = ..., sample_frequency_hz: _Optional[float] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class SendCommandsResponse(_message.Message):
    __slots__ = ("request_id", "commands")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, request_id: _Optional[str] = ..., commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...

class SendSensorCommandRequest(_message.Message):
    __slots__ = ("serial_number", "action", "sample_frequency_hz", "ttl_seconds")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    action: CommandAction
    sample_frequency_hz: float
    ttl_seconds: int
    def __init__(self, serial_number: _Optional[str] = ..., action: _Optional[_Union[CommandAction, str]] = ..., sample_frequency_hz: _Optional[float] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class GetCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class ListSensorCommandsRequest(_message.Message):
    __slots__ = ("serial_number", "limit")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    limit: int
    def __init__(self, serial_number: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListSensorCommandsResponse(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("name", "latitude", "longitude", "created_at", "sensor_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SENSOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    latitude: float
    longitude: float
    created_at: _timestamp_pb2.Timestamp
    sensor_count: int
    def __init__(self, name: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sensor_count: _Optional[int] = ...) -> None: ...

class ListTargetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTargetsResponse(_message.Message):
    __slots__ = ("targets",)
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    targets: _containers.RepeatedCompositeFieldContainer[Target]
    def __init__(self, targets: _Optional[_Iterable[_Union[Target, _Mapping]]] = ...) -> None: ...

class GetTargetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateTargetRequest(_message.Message):
    __slots__ = ("name", "latitude", "longitude")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    name: str
    latitude: float
    longitude: float
    def __init__(self, name: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ...) -> None: ...

class DeleteTargetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteTargetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMeasurementsRequest(_message.Message):
    __slots__ = ("serial_number", "since", "until", "bucket", "limit")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    since: str
    until: str
    bucket: str
    limit: int
    def __init__(self, serial_number: _Optional[str] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., bucket: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Sample(_message.Message):
    __slots__ = ("time", "value")
    TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    value: float
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[float] = ...) -> None: ...

class SampleBucket(_message.Message):
    __slots__ = ("time", "min", "max", "avg", "count")
    TIME_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    AVG_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    min: float
    max: float
    avg: float
    count: int
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., avg: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class GetMeasurementsResponse(_message.Message):
    __slots__ = ("serial_number", "since", "until", "bucket", "samples", "buckets", "truncated")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    bucket: str
    samples: _containers.RepeatedCompositeFieldContainer[Sample]
    buckets: _containers.RepeatedCompositeFieldContainer[SampleBucket]
    truncated: bool
    def __init__(self, serial_number: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket: _Optional[str] = ..., samples: _Optional[_Iterable[_Union[Sample, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[SampleBucket, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetLatestMeasurementRequest(_message.Message):
    __slots__ = ("serial_number",)
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    def __init__(self, serial_number: _Optional[str] = ...) -> None: ...

class GetLogsRequest(_message.Message):
    __slots__ = ("serial_number", "level", "since", "until", "limit")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    level: _log_pb2.LogLevel
    since: str
    until: str
    limit: int
    def __init__(self, serial_number: _Optional[str] = ..., level: _Optional[_Union[_log_pb2.LogLevel, str]] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetLogsResponse(_message.Message):
    __slots__ = ("logs",)
    LOGS_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[_log_pb2.SensorLog]
    def __init__(self, logs: _Optional[_Iterable[_Union[_log_pb2.SensorLog, _Mapping]]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("name", "role", "expires_in_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: ApiKeyRole
    expires_in_days: int
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., expires_in_days: _Optional[int] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("id", "name", "role", "prefix", "created_at", "expires_at", "key")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    role: ApiKeyRole
    prefix: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    key: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., prefix: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("id", "name", "role", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    role: ApiKeyRole
    prefix: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., prefix: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys",)
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
