import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_STATUS_UNSPECIFIED: _ClassVar[CommandStatus]
    COMMAND_STATUS_DELIVERED: _ClassVar[CommandStatus]
    COMMAND_STATUS_APPLIED: _ClassVar[CommandStatus]
    COMMAND_STATUS_REJECTED: _ClassVar[CommandStatus]
    COMMAND_STATUS_EXPIRED: _ClassVar[CommandStatus]
COMMAND_STATUS_UNSPECIFIED: CommandStatus
COMMAND_STATUS_DELIVERED: CommandStatus
COMMAND_STATUS_APPLIED: CommandStatus
COMMAND_STATUS_REJECTED: CommandStatus
COMMAND_STATUS_EXPIRED: CommandStatus

class SleepAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AwakeAction(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChangeSampleFrequencyAction(_message.Message):
    __slots__ = ("sample_frequency_hz",)
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    sample_frequency_hz: float
    def __init__(self, sample_frequency_hz: _Optional[float] = ...) -> None: ...

class SensorCommand(_message.Message):
    __slots__ = ("command_id", "serial_number", "sleep", "awake", "change_sample_frequency", "issued_at", "expires_at")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SLEEP_FIELD_NUMBER: _ClassVar[int]
    AWAKE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_SAMPLE_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    serial_number: str
    sleep: SleepAction
    awake: AwakeAction
    change_sample_frequency: ChangeSampleFrequencyAction
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., sleep: _Optional[_Union[SleepAction, _Mapping]] = ..., awake: _Optional[_Union[AwakeAction, _Mapping]] = ..., change_sample_frequency: _Optional[_Union[ChangeSampleFrequencyAction, _Mapping]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportedState(_message.Message):
    __slots__ = ("asleep", "sample_frequency_hz")
    ASLEEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    asleep: bool
    sample_frequency_hz: float
    def __init__(self, asleep: _Optional[bool] = ..., sample_frequency_hz: _Optional[float] = ...) -> None: ...

class CommandAck(_message.Message):
    __slots__ = ("command_id", "serial_number", "status", "reason", "reported", "acked_at")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    ACKED_AT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    serial_number: str
    status: CommandStatus
    reason: str
    reported: ReportedState
    acked_at: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., status: _Optional[_Union[CommandStatus, str]] = ..., reason: _Optional[str] = ..., reported: _Optional[_Union[ReportedState, _Mapping]] = ..., acked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
