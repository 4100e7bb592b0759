"""Record heartbeats: presence (last heartbeat, promised interval) and reported state.

`last_heartbeat_at` is the sensor's send time, capped at the server's clock so a sensor whose
clock runs ahead cannot look online for longer than it is, and it only ever moves forward: a
heartbeat delivered late or twice changes nothing. The interval comes from the newest
heartbeat. The reported state follows the same newest-wins rule as acknowledgements.
Heartbeats of sensors the registry does not know are acknowledged and counted, not stored:
the sensor row comes from its registration (or its first measurements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iot_service import ServiceMetrics

from sensor_registry.heartbeat_decode import Heartbeat

# Locked in serial order, like every writer of sensors in this service (no deadlocks).
_LOCK = """
SELECT serial_number FROM sensors
WHERE serial_number = ANY($1::text[])
ORDER BY serial_number
FOR NO KEY UPDATE
"""

# `heard` is when the heartbeat counts as heard: its send time, never later than now.
_UPDATE = """
UPDATE sensors AS s SET
    last_heartbeat_at = greatest(coalesce(s.last_heartbeat_at, '-infinity'), h.heard),
    heartbeat_interval_s = CASE WHEN h.heard >= coalesce(s.last_heartbeat_at, '-infinity')
                                THEN h.interval_s ELSE s.heartbeat_interval_s END,
    reported_asleep = CASE WHEN h.sent > s.reported_at THEN h.asleep
                           ELSE s.reported_asleep END,
    sample_frequency_hz = CASE WHEN h.sent > s.reported_at THEN h.hz
                               ELSE s.sample_frequency_hz END,
    reported_at = greatest(s.reported_at, h.sent)
FROM (
    SELECT serial, interval_s, asleep, hz, sent, least(sent, now()) AS heard
    FROM (
        SELECT serial, interval_s, asleep, hz,
               timestamptz 'epoch' + sent_us * interval '1 microsecond' AS sent
        FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::bool[], $5::float8[])
            AS u(serial, sent_us, interval_s, asleep, hz)
    ) AS t
) AS h
WHERE s.serial_number = h.serial
  AND (h.heard > coalesce(s.last_heartbeat_at, '-infinity') OR h.sent > s.reported_at)
"""


def _newest(heartbeats: Sequence[Heartbeat]) -> list[Heartbeat]:
    # One row per sensor per statement; the newest heartbeat of each sensor carries the most.
    newest: dict[str, Heartbeat] = {}
    for beat in heartbeats:
        kept = newest.get(beat.serial)
        if kept is None or beat.report.at_us > kept.report.at_us:
            newest[beat.serial] = beat
    return [newest[serial] for serial in sorted(newest)]


class HeartbeatStore:
    """The batch handler of sensor.all.heartbeats.presence."""

    def __init__(self, pool: Any, metrics: ServiceMetrics, log: Any) -> None:
        self._pool = pool
        self._log = log
        self._recorded = metrics.counter(
            "heartbeats_recorded", "Heartbeats of known sensors, stored or already stored"
        )
        self._unknown = metrics.counter(
            "heartbeats_unknown_sensor", "Heartbeats of sensors the registry has no row for"
        )

    async def __call__(self, heartbeats: Sequence[Heartbeat]) -> None:
        beats = _newest(heartbeats)
        serials = [beat.serial for beat in beats]
        async with self._pool.acquire() as connection, connection.transaction():
            known = {row["serial_number"] for row in await connection.fetch(_LOCK, serials)}
            beats = [beat for beat in beats if beat.serial in known]
            if beats:
                await connection.execute(
                    _UPDATE,
                    [b.serial for b in beats],
                    [b.report.at_us for b in beats],
                    [b.interval_seconds for b in beats],
                    [b.report.asleep for b in beats],
                    [b.report.sample_frequency_hz for b in beats],
                )
        unknown = [beat for beat in heartbeats if beat.serial not in known]
        self._recorded.inc(len(heartbeats) - len(unknown))
        self._unknown.inc(len(unknown))
        if unknown:
            self._log.info(
                "heartbeats of unknown sensors ignored",
                serials=sorted({beat.serial for beat in unknown}),
            )
        self._log.debug("heartbeats stored", heartbeats=len(heartbeats), sensors=len(beats))
