import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_STATUS_UNSPECIFIED: _ClassVar[JoinStatus]
    JOIN_STATUS_RECEIVED: _ClassVar[JoinStatus]
    JOIN_STATUS_JOINED: _ClassVar[JoinStatus]
    JOIN_STATUS_FAILED: _ClassVar[JoinStatus]
JOIN_STATUS_UNSPECIFIED: JoinStatus
JOIN_STATUS_RECEIVED: JoinStatus
JOIN_STATUS_JOINED: JoinStatus
JOIN_STATUS_FAILED: JoinStatus

class JoinRequest(_message.Message):
    __slots__ = ("request_id", "project", "group", "session_id", "session_name", "session_metadata_json", "requested_at", "deadline")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project: str
    group: str
    session_id: str
    session_name: str
    session_metadata_json: str
    requested_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., project: _Optional[str] = ..., group: _Optional[str] = ..., session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., session_metadata_json: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionJoin(_message.Message):
    __slots__ = ("request_id", "device_id", "session_id", "session_name", "session_metadata_json", "session_join_token", "livekit_url", "deadline")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    SESSION_JOIN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIVEKIT_URL_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    device_id: str
    session_id: str
    session_name: str
    session_metadata_json: str
    session_join_token: str
    livekit_url: str
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ..., session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., session_metadata_json: _Optional[str] = ..., session_join_token: _Optional[str] = ..., livekit_url: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JoinAck(_message.Message):
    __slots__ = ("request_id", "device_id", "status", "reason", "acked_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACKED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    device_id: str
    status: JoinStatus
    reason: str
    acked_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ..., status: _Optional[_Union[JoinStatus, str]] = ..., reason: _Optional[str] = ..., acked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DevicePing(_message.Message):
    __slots__ = ("ping_id", "sent_at", "interval_seconds")
    PING_ID_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ping_id: str
    sent_at: _timestamp_pb2.Timestamp
    interval_seconds: float
    def __init__(self, ping_id: _Optional[str] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval_seconds: _Optional[float] = ...) -> None: ...

class DevicePong(_message.Message):
    __slots__ = ("ping_id", "device_id", "answered_at")
    PING_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    ping_id: str
    device_id: str
    answered_at: _timestamp_pb2.Timestamp
    def __init__(self, ping_id: _Optional[str] = ..., device_id: _Optional[str] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
