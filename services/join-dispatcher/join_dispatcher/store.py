"""SQL on join_requests and join_deliveries, shared by dispatching and the deadline sweep.

Lock order, everywhere in this service: a transaction that locks join_requests rows locks
them first, by id; join_deliveries rows next, by (request_id, device_id); devices rows last,
by id. Dispatching, the sweep and the acknowledgement handler all run concurrently (and in
several replicas); taking locks in one global order means any two of them may wait for each
other but never deadlock. Statements that update several rows therefore lock them with an
ordered SELECT ... FOR NO KEY UPDATE first: an UPDATE alone locks in whatever order its plan
visits the rows. NO KEY UPDATE (not UPDATE) because no key changes, and it does not block the
foreign-key checks of concurrent inserts into join_deliveries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from join_dispatcher.status import EXPIRED, PENDING

# Reasons of deliveries the dispatcher, not the device, settled.
NOT_DISPATCHED = "not dispatched before the deadline"
NO_OUTCOME = "no outcome by the deadline"

LOCK_REQUEST = """
SELECT id, project_id, group_name, session_id, session_name,
       session_metadata::text AS session_metadata, status, deadline,
       deadline <= now() AS overdue
FROM join_requests
WHERE id = $1
FOR NO KEY UPDATE
"""

# The group's devices that are not revoked, as they are when the request is dispatched.
_INSERT_TARGETS = """
INSERT INTO join_deliveries (request_id, device_id, status, reason)
SELECT r.id, d.id, $2::text, $3::text
FROM join_requests AS r
JOIN devices AS d ON d.project_id = r.project_id AND d.group_name = r.group_name
WHERE r.id = ANY($1::uuid[]) AND d.revoked_at IS NULL
ORDER BY r.id, d.id
ON CONFLICT (request_id, device_id) DO NOTHING
"""

# Re-checked after the lock: a row whose outcome was committed while we waited is skipped.
_EXPIRE_OPEN = """
WITH open AS MATERIALIZED (
    SELECT request_id, device_id FROM join_deliveries
    WHERE request_id = ANY($1::uuid[]) AND status IN ('pending', 'delivered')
    ORDER BY request_id, device_id
    FOR NO KEY UPDATE
)
UPDATE join_deliveries AS d SET status = 'expired', reason = $2::text
FROM open
WHERE d.request_id = open.request_id AND d.device_id = open.device_id
  AND d.status IN ('pending', 'delivered')
"""

_CLOSE = """
UPDATE join_requests SET status = 'closed', closed_at = now()
WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'dispatched')
"""

# Devices whose JOIN is not known to be published yet (all of them, the first time).
TARGETS = """
SELECT d.device_id, v.name
FROM join_deliveries AS d
JOIN devices AS v ON v.id = d.device_id
WHERE d.request_id = $1 AND d.published_at IS NULL AND v.revoked_at IS NULL
ORDER BY d.device_id
"""

_MARK_PUBLISHED = """
WITH locked AS MATERIALIZED (
    SELECT device_id FROM join_deliveries
    WHERE request_id = $1 AND device_id = ANY($2::text[])
    ORDER BY device_id
    FOR NO KEY UPDATE
)
UPDATE join_deliveries AS d SET published_at = coalesce(d.published_at, p.published_at)
FROM locked
JOIN unnest($2::text[], $3::timestamptz[]) AS p(device_id, published_at) USING (device_id)
WHERE d.request_id = $1 AND d.device_id = locked.device_id
"""

# Only a pending request becomes dispatched: the sweep may have closed it meanwhile.
_MARK_DISPATCHED = """
UPDATE join_requests SET status = 'dispatched', dispatched_at = now()
WHERE id = $1 AND status = 'pending'
"""


def _count(status: str) -> int:
    """Rows affected, from a command status such as 'UPDATE 3' or 'INSERT 0 3'."""
    return int(status.rsplit(" ", 1)[1])


async def insert_targets(connection: Any, request_ids: Sequence[uuid.UUID]) -> int:
    """Record the targets of requests about to be dispatched (pending); how many are new."""
    return _count(await connection.execute(_INSERT_TARGETS, list(request_ids), PENDING, None))


async def close_requests(
    connection: Any, request_ids: Sequence[uuid.UUID], never_dispatched: Sequence[uuid.UUID]
) -> int:
    """Close requests whose deadline passed (rows locked by the caller); deliveries expired.

    Requests still pending were never (fully) dispatched: their targets are resolved now and
    recorded as expired, so the counts show who was asked in vain rather than nobody.
    """
    inserted = _count(
        await connection.execute(_INSERT_TARGETS, sorted(never_dispatched), EXPIRED, NOT_DISPATCHED)
    )
    expired = _count(await connection.execute(_EXPIRE_OPEN, sorted(request_ids), NO_OUTCOME))
    await connection.execute(_CLOSE, sorted(request_ids))
    return inserted + expired


async def mark_published(
    connection: Any, request_id: uuid.UUID, published: Sequence[tuple[str, datetime]]
) -> None:
    """Record when each device's JOIN was confirmed by the broker (first time only)."""
    if not published:
        return
    ordered = sorted(published)
    await connection.execute(
        _MARK_PUBLISHED,
        request_id,
        [device_id for device_id, _ in ordered],
        [at for _, at in ordered],
    )


async def mark_dispatched(connection: Any, request_id: uuid.UUID) -> bool:
    """Pending -> dispatched; False when the request was no longer pending."""
    return _count(await connection.execute(_MARK_DISPATCHED, request_id)) == 1
