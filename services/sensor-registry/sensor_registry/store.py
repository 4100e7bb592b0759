"""Create each sensor exactly once and keep its newest metadata and reported state.

One INSERT ... ON CONFLICT statement does it atomically: no check-then-insert race however
many registry instances and redeliveries run at once. `registered_at` is set only when the
row is created. Two clocks decide what a registration may replace, both the sensor's own send
time, so an old registration redelivered late cannot overwrite newer information:
- metadata (kind, firmware, boot) only if the registration is newer than metadata_updated_at;
- reported state (sample frequency, awake) only if it is newer than reported_at, which
  acknowledgements and heartbeats advance too: a registration is a report as well (a sensor
  boots awake at its configured frequency), but not a newer one than a later heartbeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iot_service import ServiceMetrics

from sensor_registry.decode import Registration

_META = "s.metadata_updated_at < EXCLUDED.metadata_updated_at"
_REPORT = "s.reported_at < EXCLUDED.reported_at"
_UPSERT = f"""
INSERT INTO sensors AS s (serial_number, kind, sample_frequency_hz, firmware_version, boot_id,
                          booted_at, self_test, metadata_updated_at, reported_asleep, reported_at)
SELECT serial, kind, frequency, firmware, boot_id,
       timestamptz 'epoch' + booted_us * interval '1 microsecond', self_test,
       timestamptz 'epoch' + sent_us * interval '1 microsecond', false,
       timestamptz 'epoch' + sent_us * interval '1 microsecond'
FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::bigint[])
    AS r(serial, kind, frequency, firmware, boot_id, booted_us, self_test, sent_us)
ORDER BY serial
ON CONFLICT (serial_number) DO UPDATE SET
    kind = CASE WHEN {_META} THEN EXCLUDED.kind ELSE s.kind END,
    firmware_version = CASE WHEN {_META} THEN EXCLUDED.firmware_version
                            ELSE s.firmware_version END,
    boot_id = CASE WHEN {_META} THEN EXCLUDED.boot_id ELSE s.boot_id END,
    booted_at = CASE WHEN {_META} THEN EXCLUDED.booted_at ELSE s.booted_at END,
    self_test = CASE WHEN {_META} THEN EXCLUDED.self_test ELSE s.self_test END,
    metadata_updated_at = greatest(s.metadata_updated_at, EXCLUDED.metadata_updated_at),
    sample_frequency_hz = CASE WHEN {_REPORT} THEN EXCLUDED.sample_frequency_hz
                               ELSE s.sample_frequency_hz END,
    reported_asleep = CASE WHEN {_REPORT} THEN false ELSE s.reported_asleep END,
    reported_at = greatest(s.reported_at, EXCLUDED.reported_at)
WHERE {_META} OR {_REPORT}
RETURNING (xmax = 0) AS created
"""


class RegistrationStore:
    """The batch handler of sensor.all.registry.created."""

    def __init__(self, pool: Any, metrics: ServiceMetrics, log: Any) -> None:
        self._pool = pool
        self._log = log
        self._created = metrics.counter("sensors_created", "Sensors registered for the first time")
        self._updated = metrics.counter(
            "sensors_updated", "Registrations that updated metadata or reported state"
        )

    async def __call__(self, registrations: Sequence[Registration]) -> None:
        # One row per serial per statement (ON CONFLICT may touch a row only once): the
        # newest registration of each sensor in this batch wins.
        newest: dict[str, Registration] = {}
        for reg in registrations:
            if reg.serial not in newest or reg.sent_at_us > newest[reg.serial].sent_at_us:
                newest[reg.serial] = reg
        regs = list(newest.values())
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                _UPSERT,
                [r.serial for r in regs],
                [r.kind for r in regs],
                [r.sample_frequency_hz for r in regs],
                [r.firmware_version for r in regs],
                [r.boot_id for r in regs],
                [r.booted_at_us for r in regs],
                [r.self_test for r in regs],
                [r.sent_at_us for r in regs],
            )
        created = sum(1 for row in rows if row["created"])
        self._created.inc(created)
        self._updated.inc(len(rows) - created)
        self._log.info(
            "registrations stored",
            created=created,
            updated=len(rows) - created,
            unchanged=len(regs) - len(rows),
        )
