"""Commands: the rows that record them, the protobuf that carries them, and their status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.command_pb2 import (
    AwakeAction,
    ChangeSampleFrequencyAction,
    SensorCommand,
    SleepAction,
)

from api_gateway.models import Action, Command, CommandReport, CommandStatus

_COLUMNS = """
    c.id, c.request_id, s.serial_number, c.action, c.sample_frequency_hz, c.status, c.reason,
    c.issued_by, c.issued_at, c.expires_at, c.delivered_at, c.completed_at,
    c.reported_asleep, c.reported_sample_frequency_hz
"""

INSERT = f"""
WITH inserted AS (
    INSERT INTO commands (id, request_id, sensor_id, action, sample_frequency_hz, issued_by,
                          expires_at)
    SELECT new.id, $3, new.sensor_id, $4, $5, $6, now() + $7 * interval '1 second'
    FROM unnest($1::uuid[], $2::int[]) AS new(id, sensor_id)
    RETURNING *
)
SELECT {_COLUMNS} FROM inserted c JOIN sensors s ON s.id = c.sensor_id ORDER BY s.serial_number
"""
ONE = f"SELECT {_COLUMNS} FROM commands c JOIN sensors s ON s.id = c.sensor_id WHERE c.id = $1"
OF_SENSOR = f"""
SELECT {_COLUMNS} FROM commands c JOIN sensors s ON s.id = c.sensor_id
WHERE s.serial_number = $1 ORDER BY c.issued_at DESC, c.id LIMIT $2
"""
# Only a command still pending can fail: the sensor may have acknowledged one whose confirm the
# gateway never saw, and the sensor's word wins. Rows are locked in the order the
# sensor-registry locks them (commands by id, then sensors by serial number), so the two never
# deadlock.
MARK_FAILED = """
WITH failed AS (
    SELECT c.id, f.reason FROM commands c
    JOIN unnest($1::uuid[], $2::text[]) AS f(id, reason) ON f.id = c.id
    WHERE c.status = 'pending'
    ORDER BY c.id
    FOR NO KEY UPDATE OF c
)
UPDATE commands c SET status = 'failed', reason = failed.reason, completed_at = now()
FROM failed WHERE c.id = failed.id
"""
SET_DESIRED = """
WITH chosen AS (
    SELECT id FROM sensors WHERE id = ANY($1::int[]) ORDER BY serial_number FOR NO KEY UPDATE
)
UPDATE sensors s SET
    desired_asleep = CASE $2 WHEN 'sleep' THEN true WHEN 'awake' THEN false
                     ELSE s.desired_asleep END,
    desired_sample_frequency_hz = coalesce($3, s.desired_sample_frequency_hz),
    desired_at = now()
FROM chosen WHERE s.id = chosen.id
"""
SELECT_ONE = "SELECT id, serial_number FROM sensors WHERE serial_number = $1"
SELECT_TARGET = """
SELECT s.id, s.serial_number FROM sensors s JOIN targets t ON t.id = s.target_id
WHERE t.name = $1 ORDER BY s.serial_number
"""
SELECT_ALL = "SELECT id, serial_number FROM sensors ORDER BY serial_number"


def to_command(row: Any) -> Command:
    reported = None
    if row["reported_asleep"] is not None and row["reported_sample_frequency_hz"] is not None:
        reported = CommandReport(
            asleep=row["reported_asleep"],
            sample_frequency_hz=row["reported_sample_frequency_hz"],
        )
    return Command(
        command_id=row["id"],
        request_id=row["request_id"],
        serial_number=row["serial_number"],
        action=Action(row["action"]),
        sample_frequency_hz=row["sample_frequency_hz"],
        status=CommandStatus(row["status"]),
        reason=row["reason"],
        issued_by=row["issued_by"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        delivered_at=row["delivered_at"],
        completed_at=row["completed_at"],
        reported=reported,
    )


def _timestamp(instant: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def to_message(command: Command) -> SensorCommand:
    """The protobuf the sensor receives; its action field matches the routing key's last word."""
    message = SensorCommand(
        command_id=str(command.command_id),
        serial_number=command.serial_number,
        issued_at=_timestamp(command.issued_at),
        expires_at=_timestamp(command.expires_at),
    )
    if command.action is Action.SLEEP:
        message.sleep.CopyFrom(SleepAction())
    elif command.action is Action.AWAKE:
        message.awake.CopyFrom(AwakeAction())
    else:
        assert command.sample_frequency_hz is not None  # the request model guarantees it
        message.change_sample_frequency.CopyFrom(
            ChangeSampleFrequencyAction(sample_frequency_hz=command.sample_frequency_hz)
        )
    return message
