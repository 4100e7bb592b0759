"""Device presence: last_seen_at is when the platform last heard from a device.

Every pong and every join acknowledgement counts. The server's clock is used, not the
device's: a device whose clock runs ahead must not look online for longer than it is, and one
whose clock lags must not look offline. last_seen_at never moves backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Devices are locked in id order (the last step of this service's lock order, see store.py)
# so that the acknowledgement and pong consumers, and replicas of them, never deadlock.
_TOUCH = """
WITH seen AS MATERIALIZED (
    SELECT id FROM devices WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE
)
UPDATE devices AS d SET last_seen_at = greatest(d.last_seen_at, now())
FROM seen
WHERE d.id = seen.id
RETURNING d.id
"""


async def touch_devices(connection: Any, device_ids: Sequence[str]) -> set[str]:
    """Mark devices as seen now; returns those that exist (the others are ignored)."""
    if not device_ids:
        return set()
    rows = await connection.fetch(_TOUCH, sorted(set(device_ids)))
    return {row["id"] for row in rows}
