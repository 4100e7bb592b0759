"""SensorLog messages -> validated log entries, or the reason they are invalid."""

from __future__ import annotations

from dataclasses import dataclass

from iot.v1.log_pb2 import LogLevel, SensorLog
from iot_messaging import InvalidMessageError
from iot_messaging.validation import LATEST_US, parse, sender_serial, sequence

_LEVELS = {
    LogLevel.LOG_LEVEL_UNSPECIFIED: "unspecified",
    LogLevel.LOG_LEVEL_DEBUG: "debug",
    LogLevel.LOG_LEVEL_INFO: "info",
    LogLevel.LOG_LEVEL_WARNING: "warning",
    LogLevel.LOG_LEVEL_ERROR: "error",
}
TRUNCATED = " [truncated]"


@dataclass(frozen=True)
class LogEntry:
    serial: str
    sequence: int
    time_us: int
    level: str
    message: str


def decode_log(body: bytes, routing_key: str, max_chars: int) -> LogEntry:
    message = parse(SensorLog, body)
    serial = sender_serial(message.serial_number, routing_key)
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
    return LogEntry(serial, sequence(message.sequence), time_us, level, text)
