"""SensorHeartbeat messages -> validated heartbeats, or the reason they are invalid."""

from __future__ import annotations

import math
from dataclasses import dataclass

from iot.v1.heartbeat_pb2 import SensorHeartbeat
from iot_messaging import InvalidMessageError
from iot_messaging.validation import parse, sender_serial

from sensor_registry.reports import Report, decode_report, sensor_time_us


@dataclass(frozen=True)
class Heartbeat:
    """One sign of life, with the state the sensor was in when it sent it."""

    serial: str
    interval_seconds: float
    report: Report  # report.at_us is the heartbeat's sent_at


def decode_heartbeat(body: bytes, routing_key: str, max_frequency_hz: float) -> Heartbeat:
    """Parse and validate; raise InvalidMessageError with the reason otherwise."""
    message = parse(SensorHeartbeat, body)
    serial = sender_serial(message.serial_number, routing_key)
    interval = message.interval_seconds
    if not (math.isfinite(interval) and interval > 0):
        raise InvalidMessageError(f"invalid interval: {interval}")
    sent_us = sensor_time_us(message.sent_at, message.HasField("sent_at"), "sent_at")
    report = decode_report(
        message.reported, message.HasField("reported"), sent_us, max_frequency_hz
    )
    return Heartbeat(serial, interval, report)
