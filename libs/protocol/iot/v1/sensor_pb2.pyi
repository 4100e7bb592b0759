import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SensorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSOR_KIND_UNSPECIFIED: _ClassVar[SensorKind]
    SENSOR_KIND_ACCELEROMETER: _ClassVar[SensorKind]
    SENSOR_KIND_TEMPERATURE: _ClassVar[SensorKind]
    SENSOR_KIND_STRAIN: _ClassVar[SensorKind]
    SENSOR_KIND_HUMIDITY: _ClassVar[SensorKind]
SENSOR_KIND_UNSPECIFIED: SensorKind
SENSOR_KIND_ACCELEROMETER: SensorKind
SENSOR_KIND_TEMPERATURE: SensorKind
SENSOR_KIND_STRAIN: SensorKind
SENSOR_KIND_HUMIDITY: SensorKind

class FirmwareInfo(_message.Message):
    __slots__ = ("version", "boot_id", "booted_at", "self_test")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOTED_AT_FIELD_NUMBER: _ClassVar[int]
    SELF_TEST_FIELD_NUMBER: _ClassVar[int]
    version: str
    boot_id: str
    booted_at: _timestamp_pb2.Timestamp
    self_test: str
    def __init__(self, version: _Optional[str] = ..., boot_id: _Optional[str] = ..., booted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., self_test: _Optional[str] = ...) -> None: ...

class SensorRegistration(_message.Message):
    __slots__ = ("serial_number", "kind", "sample_frequency_hz", "firmware", "sent_at")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    kind: SensorKind
    sample_frequency_hz: float
    firmware: FirmwareInfo
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, serial_number: _Optional[str] = ..., kind: _Optional[_Union[SensorKind, str]] = ..., sample_frequency_hz: _Optional[float] = ..., firmware: _Optional[_Union[FirmwareInfo, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
