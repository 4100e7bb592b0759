"""Join requests: the SQL that records them and reads their progress, rows as models, and the
protobuf that hands one to the join-dispatcher.

The gateway writes a request row (pending, or failed when the broker did not take it); the
join-dispatcher writes the rest: dispatched, one join_deliveries row per targeted device, the
devices' answers, and closed at the deadline.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import JoinRequest

from api_gateway.fleet.models import (
    JoinCounts,
    JoinDelivery,
    JoinRequestCreate,
    JoinRequestState,
    JoinRequestSummary,
    metadata_json,
)

# requested_at comes from the same clock as the deadline it was computed with, so the table's
# CHECK (deadline > requested_at) holds whatever the skew between gateway and database.
INSERT = """
INSERT INTO join_requests (id, project_id, group_name, session_id, session_name,
                           session_metadata, requested_by, requested_at, deadline)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
"""
# Only a request the dispatcher has not taken can fail: a request stays pending while the
# dispatcher publishes its JOINs, but it has recorded the targets by then, under the row lock
# (a confirm lost on the way back to us must not mark a request under way as failed).
LOCK_PENDING = "SELECT status = 'pending' FROM join_requests WHERE id = $1 FOR UPDATE"
TAKEN = "SELECT EXISTS (SELECT 1 FROM join_deliveries WHERE request_id = $1)"
MARK_FAILED = "UPDATE join_requests SET status = 'failed', reason = $2 WHERE id = $1"


async def mark_failed(connection: Any, request_id: uuid.UUID, reason: str) -> bool:
    """Pending and not taken by the dispatcher -> failed; False if it is under way.

    The lock comes first and the dispatcher's targets are read in a statement after it, so
    they are seen even when the dispatcher committed them while this waited for the lock.
    """
    async with connection.transaction():
        if not await connection.fetchval(LOCK_PENDING, request_id):
            return False
        if await connection.fetchval(TAKEN, request_id):
            return False
        await connection.execute(MARK_FAILED, request_id, reason)
        return True


_SUMMARY = """
SELECT r.id, r.project_id, r.group_name, r.session_id, r.session_name,
       r.session_metadata::text AS session_metadata, r.status, r.reason, r.requested_by,
       r.requested_at, r.deadline, r.dispatched_at, r.closed_at,
       c.targeted, c.pending, c.delivered, c.joined, c.failed, c.expired
FROM join_requests r
CROSS JOIN LATERAL (
    SELECT count(*) AS targeted,
           count(*) FILTER (WHERE j.status = 'pending') AS pending,
           count(*) FILTER (WHERE j.status = 'delivered') AS delivered,
           count(*) FILTER (WHERE j.status = 'joined') AS joined,
           count(*) FILTER (WHERE j.status = 'failed') AS failed,
           count(*) FILTER (WHERE j.status = 'expired') AS expired
    FROM join_deliveries j WHERE j.request_id = r.id
) c
"""
ONE = _SUMMARY + "WHERE r.id = $1"
# Newest first; join_requests_group_idx serves the filtered form.
LIST = (
    _SUMMARY
    + """
WHERE ($1::text IS NULL OR r.project_id = $1)
  AND ($2::text IS NULL OR r.group_name = $2)
ORDER BY r.requested_at DESC, r.id
LIMIT $3
"""
)
DELIVERIES = """
SELECT j.device_id, d.name, j.status, j.reason, j.published_at, j.delivered_at, j.answered_at
FROM join_deliveries j JOIN devices d ON d.id = j.device_id
WHERE j.request_id = $1
ORDER BY d.name, j.device_id
"""


def to_summary(row: Any) -> JoinRequestSummary:
    return JoinRequestSummary(
        join_request_id=row["id"],
        project=row["project_id"],
        group=row["group_name"],
        session_id=row["session_id"],
        session_name=row["session_name"],
        session_metadata=json.loads(row["session_metadata"]),
        status=JoinRequestState(row["status"]),
        reason=row["reason"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        deadline=row["deadline"],
        dispatched_at=row["dispatched_at"],
        closed_at=row["closed_at"],
        counts=JoinCounts(
            targeted=row["targeted"],
            pending=row["pending"],
            delivered=row["delivered"],
            joined=row["joined"],
            failed=row["failed"],
            expired=row["expired"],
        ),
    )


def to_delivery(row: Any) -> JoinDelivery:
    # DELIVERIES names its columns after the model's fields.
    return JoinDelivery(**dict(row))


def _timestamp(instant: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant)
    return stamp


def to_message(
    request_id: uuid.UUID, request: JoinRequestCreate, requested_at: datetime, deadline: datetime
) -> JoinRequest:
    """The hand-over to the join-dispatcher, carrying the request as recorded."""
    return JoinRequest(
        request_id=str(request_id),
        project=request.project,
        group=request.group,
        session_id=request.session_id,
        session_name=request.session_name,
        session_metadata_json=metadata_json(request.session_metadata),
        requested_at=_timestamp(requested_at),
        deadline=_timestamp(deadline),
    )
