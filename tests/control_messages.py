"""Real control-plane protobuf messages as sensors send them: command acks and heartbeats."""

from __future__ import annotations

from iot.v1.command_pb2 import CommandAck, CommandStatus, ReportedState
from iot.v1.heartbeat_pb2 import SensorHeartbeat

from tests.messages import timestamp

DELIVERED = CommandStatus.COMMAND_STATUS_DELIVERED
APPLIED = CommandStatus.COMMAND_STATUS_APPLIED
REJECTED = CommandStatus.COMMAND_STATUS_REJECTED
EXPIRED = CommandStatus.COMMAND_STATUS_EXPIRED


def reported(asleep: bool = False, frequency: float = 100.0) -> ReportedState:
    return ReportedState(asleep=asleep, sample_frequency_hz=frequency)


def ack(
    serial: str,
    command_id: str,
    status: CommandStatus,
    acked_us: int,
    *,
    asleep: bool = False,
    frequency: float = 100.0,
    reason: str = "",
) -> CommandAck:
    return CommandAck(
        command_id=command_id,
        serial_number=serial,
        status=status,
        reason=reason,
        reported=reported(asleep, frequency),
        acked_at=timestamp(acked_us),
    )


def ack_message(
    serial: str,
    command_id: str,
    status: CommandStatus,
    acked_us: int,
    *,
    asleep: bool = False,
    frequency: float = 100.0,
    reason: str = "",
) -> bytes:
    message = ack(
        serial, command_id, status, acked_us, asleep=asleep, frequency=frequency, reason=reason
    )
    return message.SerializeToString()


def heartbeat(
    serial: str,
    sent_us: int,
    *,
    interval: float = 5.0,
    asleep: bool = False,
    frequency: float = 100.0,
    boot_id: str = "boot-1",
) -> SensorHeartbeat:
    return SensorHeartbeat(
        serial_number=serial,
        boot_id=boot_id,
        sent_at=timestamp(sent_us),
        reported=reported(asleep, frequency),
        interval_seconds=interval,
    )


def heartbeat_message(
    serial: str,
    sent_us: int,
    *,
    interval: float = 5.0,
    asleep: bool = False,
    frequency: float = 100.0,
) -> bytes:
    message = heartbeat(serial, sent_us, interval=interval, asleep=asleep, frequency=frequency)
    return message.SerializeToString()
