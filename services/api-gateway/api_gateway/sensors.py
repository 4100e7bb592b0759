"""Sensors as the API shows them: registry row, desired and reported state, presence."""

from __future__ import annotations

from typing import Any

from api_gateway.models import DesiredState, Presence, ReportedState, Sensor

# Presence: last seen is the newer of the last heartbeat and the last stored batch (from the
# ingester's ledger). A sensor is offline once it was not seen for `multiple` times the heartbeat
# interval it announced ($1 when it never announced one); heard from and reporting asleep is
# asleep, not offline. greatest() ignores NULLs, so one source is enough.
_OVERVIEW = """
WITH overview AS (
    SELECT s.id, s.serial_number, s.kind, t.name AS target, s.firmware_version, s.registered_at,
           s.desired_asleep, s.desired_sample_frequency_hz, s.desired_at,
           s.reported_asleep, s.sample_frequency_hz,
           NULLIF(s.reported_at, '-infinity') AS reported_at,
           s.last_heartbeat_at, lm.last_measurement_at,
           greatest(s.last_heartbeat_at, lm.last_measurement_at) AS last_seen_at,
           coalesce(s.heartbeat_interval_s, $1) * $2 * interval '1 second' AS offline_after
    FROM sensors s
    LEFT JOIN targets t ON t.id = s.target_id
    LEFT JOIN LATERAL (
        SELECT max(b.received_at) AS last_measurement_at
        FROM measurement_batches b WHERE b.sensor_id = s.id
    ) lm ON true
), presence AS (
    SELECT overview.*,
           CASE WHEN last_seen_at IS NULL OR last_seen_at < now() - offline_after THEN 'offline'
                WHEN reported_asleep THEN 'asleep'
                ELSE 'online' END AS state
    FROM overview
)
SELECT * FROM presence
"""

LIST = (
    _OVERVIEW
    + """
WHERE ($3::text IS NULL OR target = $3)
  AND ($4::text[] IS NULL OR state = ANY($4))
  AND ($5::text IS NULL OR serial_number > $5)
ORDER BY serial_number
LIMIT $6
"""
)
ONE = _OVERVIEW + "WHERE serial_number = $3"
SENSOR_ID = "SELECT id FROM sensors WHERE serial_number = $1"
# The sensor's commands are locked first (by id), as the sensor-registry locks them before the
# sensor row: the cascading delete then cannot deadlock with an acknowledgement being stored.
LOCK_COMMANDS = """
SELECT c.id FROM commands c JOIN sensors s ON s.id = c.sensor_id
WHERE s.serial_number = $1 ORDER BY c.id FOR UPDATE OF c
"""
DELETE = "DELETE FROM sensors WHERE serial_number = $1 RETURNING id"
ASSIGN = """
UPDATE sensors SET target_id = (SELECT id FROM targets WHERE name = $2)
WHERE serial_number = $1
RETURNING id
"""


def to_sensor(row: Any) -> Sensor:
    desired = DesiredState(
        asleep=row["desired_asleep"],
        sample_frequency_hz=row["desired_sample_frequency_hz"],
        updated_at=row["desired_at"],
    )
    reported = ReportedState(
        asleep=row["reported_asleep"],
        sample_frequency_hz=row["sample_frequency_hz"],
        updated_at=row["reported_at"],
    )
    in_sync = (desired.asleep is None or desired.asleep == reported.asleep) and (
        desired.sample_frequency_hz is None
        or desired.sample_frequency_hz == reported.sample_frequency_hz
    )
    state = Presence(row["state"])
    return Sensor(
        serial_number=row["serial_number"],
        kind=row["kind"],
        target=row["target"],
        firmware_version=row["firmware_version"],
        registered_at=row["registered_at"],
        state=state,
        online=state is not Presence.OFFLINE,
        last_seen_at=row["last_seen_at"],
        last_measurement_at=row["last_measurement_at"],
        last_heartbeat_at=row["last_heartbeat_at"],
        desired=desired,
        reported=reported,
        in_sync=in_sync,
    )
