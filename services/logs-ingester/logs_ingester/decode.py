"""SensorLog messages -> validated log entries, or the reason they are invalid."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from iot.v1.log_pb2 import LogLevel, SensorLog
from iot_messaging import InvalidMessageError
from iot_routing import InvalidSerialError, validate_serial

_LEVELS = {
    LogLevel.LOG_LEVEL_UNSPECIFIED: "unspecified",
    LogLevel.LOG_LEVEL_DEBUG: "debug",
    LogLevel.LOG_LEVEL_INFO: "info",
    LogLevel.LOG_LEVEL_WARNING: "warning",
    LogLevel.LOG_LEVEL_ERROR: "error",
}
LATEST_US = 7_258_118_400_000_000  # 2200-01-01
MAX_SEQUENCE = 2**63 - 1
TRUNCATED = " [truncated]"


@dataclass(frozen=True)
class LogEntry:
    serial: str
    sequence: int
    time_us: int
    level: str
    message: str


def decode_log(body: bytes, routing_key: str, max_chars: int) -> LogEntry:
    try:
        message = SensorLog.FromString(body)
    except DecodeError as exc:
        raise InvalidMessageError(f"undecodable: {exc}") from exc
    try:
        serial = validate_serial(message.serial_number)
    except InvalidSerialError as exc:
        raise InvalidMessageError(f"invalid serial: {exc}") from exc
    if routing_key.split(".")[1:2] != [serial]:
        raise InvalidMessageError(f"serial mismatch: {serial!r} sent with key {routing_key!r}")
    if not 0 < message.sequence <= MAX_SEQUENCE:
        raise InvalidMessageError(f"invalid sequence: {message.sequence}")
    if not message.HasField("time"):
        raise InvalidMessageError("invalid time: time missing")
    time_us = message.time.ToMicroseconds()
    if not 0 <= time_us < LATEST_US:
        raise InvalidMessageError(f"invalid time: {time_us} us")
    level = _LEVELS.get(message.level)
    if level is None:
        raise InvalidMessageError(f"invalid level: {message.level}")
    text = message.message.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if len(text) > max_chars:
        text = text[: max_chars - len(TRUNCATED)] + TRUNCATED
    return LogEntry(serial, message.sequence, time_us, level, text)
