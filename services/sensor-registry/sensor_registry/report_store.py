"""Store the newest reported state (asleep, sample frequency) of each sensor.

A report replaces the stored one only if the sensor sent it later (`reported_at`), so an old
acknowledgement delivered late, or redelivered, never overwrites a newer state. Rows are locked
in serial order first: every writer of `sensors` in this service locks in that order, so two
registry replicas working on overlapping batches wait for each other but cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sensor_registry.reports import Report

# SELECT ... FOR UPDATE re-checks its WHERE clause against the newest row version, so a row
# that a concurrent writer has meanwhile given a newer report is skipped, not locked.
_LOCK = """
SELECT s.id
FROM sensors AS s
JOIN unnest($1::text[], $2::bigint[]) AS r(serial, at_us) ON r.serial = s.serial_number
WHERE s.reported_at < timestamptz 'epoch' + r.at_us * interval '1 microsecond'
ORDER BY s.serial_number
FOR NO KEY UPDATE OF s
"""

_UPDATE = """
UPDATE sensors AS s
SET reported_asleep = r.asleep, sample_frequency_hz = r.hz, reported_at = r.at
FROM (
    SELECT serial, asleep, hz, timestamptz 'epoch' + at_us * interval '1 microsecond' AS at
    FROM unnest($1::text[], $2::bigint[], $3::bool[], $4::float8[]) AS u(serial, at_us, asleep, hz)
) AS r
WHERE s.serial_number = r.serial AND s.reported_at < r.at
"""


async def store_reports(connection: Any, reports: Mapping[str, Report]) -> int:
    """Apply the newest report of each serial (serial -> report) in the caller's transaction.

    Returns how many sensors changed. Unknown serials are ignored: the registry learns about
    sensors from registrations and measurements, not from reports.
    """
    serials = sorted(reports)
    if not serials:
        return 0
    times = [reports[s].at_us for s in serials]
    locked = await connection.fetch(_LOCK, serials, times)
    if not locked:
        return 0
    status: str = await connection.execute(
        _UPDATE,
        serials,
        times,
        [reports[s].asleep for s in serials],
        [reports[s].sample_frequency_hz for s in serials],
    )
    return int(status.rsplit(" ", 1)[1])
