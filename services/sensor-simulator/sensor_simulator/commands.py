"""What a command does to the sensor, and what the sensor answers; no I/O here.

A command is applied at most once in effect: every action sets a state (asleep, awake, a
frequency) rather than toggling one, so a redelivered command changes nothing the second time
and is acknowledged again alike. A command past its deadline is not applied; an invalid one is
rejected with the reason. Nothing here raises for bad input: the sensor must survive anything
an operator or a broken client sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from iot.v1.command_pb2 import CommandAck, CommandStatus, ReportedState, SensorCommand

from sensor_simulator.messages import timestamp
from sensor_simulator.sensor import InvalidSampleFrequencyError, Sensor


class InvalidCommandError(ValueError):
    """A message on the command queue that is not a usable command for this sensor."""


@dataclass(frozen=True)
class Outcome:
    """The result of taking one command."""

    status: CommandStatus
    reason: str = ""


def decode_command(body: bytes, serial: str) -> SensorCommand:
    """Parse a command meant for this sensor, or raise InvalidCommandError with the reason."""
    try:
        command = SensorCommand.FromString(body)
    except DecodeError as exc:
        raise InvalidCommandError(f"undecodable command: {exc}") from exc
    if not command.command_id:
        raise InvalidCommandError("command without command_id")
    if command.serial_number != serial:
        raise InvalidCommandError(
            f"command {command.command_id} is for {command.serial_number!r}, not {serial!r}"
        )
    return command


def apply_command(sensor: Sensor, command: SensorCommand, now_ns: int) -> Outcome:
    """Apply the command to the sensor at now_ns, unless it expired or is invalid."""
    if command.HasField("expires_at") and command.expires_at.ToNanoseconds() < now_ns:
        return Outcome(CommandStatus.COMMAND_STATUS_EXPIRED, "the command expired before delivery")
    action = command.WhichOneof("action")
    if action == "sleep":
        sensor.sleep(now_ns)
    elif action == "awake":
        sensor.awake(now_ns)
    elif action == "change_sample_frequency":
        try:
            sensor.change_sample_frequency(
                command.change_sample_frequency.sample_frequency_hz, now_ns
            )
        except InvalidSampleFrequencyError as exc:
            return Outcome(CommandStatus.COMMAND_STATUS_REJECTED, str(exc))
    else:
        return Outcome(CommandStatus.COMMAND_STATUS_REJECTED, "the command names no action")
    return Outcome(CommandStatus.COMMAND_STATUS_APPLIED)


def acknowledgement(sensor: Sensor, command_id: str, outcome: Outcome, now_ns: int) -> CommandAck:
    """The acknowledgement of one command, with the state the sensor is in now."""
    return CommandAck(
        command_id=command_id,
        serial_number=sensor.serial,
        status=outcome.status,
        reason=outcome.reason,
        reported=reported_state(sensor),
        acked_at=timestamp(now_ns),
    )


def reported_state(sensor: Sensor) -> ReportedState:
    """What the sensor says it does, in acknowledgements and heartbeats alike."""
    return ReportedState(asleep=sensor.asleep, sample_frequency_hz=sensor.sample_frequency_hz)
