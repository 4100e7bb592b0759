"""Registration messages -> validated registrations, or the reason they are invalid."""

from __future__ import annotations

import math
from dataclasses import dataclass

from iot.v1.sensor_pb2 import SensorKind, SensorRegistration
from iot_messaging import InvalidMessageError
from iot_messaging.validation import parse, sender_serial

_KIND_PREFIX = "SENSOR_KIND_"


@dataclass(frozen=True)
class Registration:
    serial: str
    kind: str
    sample_frequency_hz: float
    firmware_version: str | None
    boot_id: str | None
    booted_at_us: int | None
    self_test: str | None
    sent_at_us: int


def decode_registration(body: bytes, routing_key: str, max_frequency_hz: float) -> Registration:
    message = parse(SensorRegistration, body)
    serial = sender_serial(message.serial_number, routing_key)
    frequency = message.sample_frequency_hz
    if not (math.isfinite(frequency) and 0 < frequency <= max_frequency_hz):
        raise InvalidMessageError(f"invalid sample frequency: {frequency}")
    if not message.HasField("sent_at"):
        raise InvalidMessageError("invalid time: sent_at missing")
    firmware = message.firmware if message.HasField("firmware") else None
    return Registration(
        serial=serial,
        kind=SensorKind.Name(message.kind).removeprefix(_KIND_PREFIX).lower(),
        sample_frequency_hz=frequency,
        firmware_version=(firmware.version or None) if firmware else None,
        boot_id=(firmware.boot_id or None) if firmware else None,
        booted_at_us=(
            firmware.booted_at.ToMicroseconds()
            if firmware and firmware.HasField("booted_at")
            else None
        ),
        self_test=(firmware.self_test or None) if firmware else None,
        sent_at_us=message.sent_at.ToMicroseconds(),
    )
