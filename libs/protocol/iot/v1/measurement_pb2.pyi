import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MeasurementBatch(_message.Message):
    __slots__ = ("serial_number", "sequence", "first_sample_time", "sample_rate_hz", "samples", "sent_at")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SAMPLE_TIME_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    sequence: int
    first_sample_time: _timestamp_pb2.Timestamp
    sample_rate_hz: float
    samples: _containers.RepeatedScalarFieldContainer[float]
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, serial_number: _Optional[str] = ..., sequence: _Optional[int] = ..., first_sample_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample_rate_hz: _Optional[float] = ..., samples: _Optional[_Iterable[float]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
