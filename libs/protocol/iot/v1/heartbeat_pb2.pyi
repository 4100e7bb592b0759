import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from iot.v1 import command_pb2 as _command_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SensorHeartbeat(_message.Message):
    __slots__ = ("serial_number", "boot_id", "sent_at", "reported", "interval_seconds")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    boot_id: str
    sent_at: _timestamp_pb2.Timestamp
    reported: _command_pb2.ReportedState
    interval_seconds: float
    def __init__(self, serial_number: _Optional[str] = ..., boot_id: _Optional[str] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reported: _Optional[_Union[_command_pb2.ReportedState, _Mapping]] = ..., interval_seconds: _Optional[float] = ...) -> None: ...
