"""CommandAck messages -> validated acknowledgements, or the reason they are invalid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from iot.v1.command_pb2 import CommandAck, CommandStatus
from iot_messaging import InvalidMessageError
from iot_messaging.validation import parse, sender_serial

from sensor_registry.reports import Report, decode_report, sensor_time_us

DELIVERED = "delivered"
# The statuses of the commands table an acknowledgement can carry.
_STATUSES = {
    CommandStatus.COMMAND_STATUS_DELIVERED: DELIVERED,
    CommandStatus.COMMAND_STATUS_APPLIED: "applied",
    CommandStatus.COMMAND_STATUS_REJECTED: "rejected",
    CommandStatus.COMMAND_STATUS_EXPIRED: "expired",
}


@dataclass(frozen=True)
class Ack:
    """One acknowledgement: DELIVERED, or an outcome (applied, rejected, expired)."""

    command_id: uuid.UUID
    serial: str
    status: str
    reason: str | None  # None when the sensor gave none
    report: Report  # report.at_us is the ack's acked_at

    @property
    def is_outcome(self) -> bool:
        return self.status != DELIVERED


def decode_ack(body: bytes, routing_key: str, max_frequency_hz: float) -> Ack:
    """Parse and validate; raise InvalidMessageError with the reason otherwise."""
    message = parse(CommandAck, body)
    serial = sender_serial(message.serial_number, routing_key)
    try:
        # Any spelling uuid.UUID reads (the simulator's own tests send bare hex) is the same id.
        command_id = uuid.UUID(message.command_id)
    except ValueError as exc:
        raise InvalidMessageError(f"invalid command id: {message.command_id!r}") from exc
    status = _STATUSES.get(message.status)
    if status is None:
        raise InvalidMessageError(f"invalid status: {message.status}")
    acked_us = sensor_time_us(message.acked_at, message.HasField("acked_at"), "acked_at")
    report = decode_report(
        message.reported, message.HasField("reported"), acked_us, max_frequency_hz
    )
    return Ack(command_id, serial, status, message.reason or None, report)
