"""The deadline sweep: close join requests whose deadline has passed.

Every few seconds, open requests (pending, dispatched) past their deadline are closed
(closed_at set) and their deliveries with no outcome (pending, delivered) become expired. A
request still pending was never fully dispatched (its message is late, or the dispatcher was
down): its group's devices are recorded as expired targets too, as a late request would be.
A device's outcome answered by the deadline still replaces `expired` when it arrives later
(status.py), so no grace period is needed here. Every replica sweeps; the statements are
idempotent and lock requests by id, then deliveries by (request, device), the order every
writer in this service uses (store.py), so a sweep and an acknowledgement batch wait for each
other at worst and never deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from join_dispatcher.metrics import DispatcherMetrics
from join_dispatcher.status import PENDING
from join_dispatcher.store import close_requests

# Requests closed per transaction: a backlog (after an outage) is worked off in bounded steps.
BATCH = 500

# FOR NO KEY UPDATE re-checks the status of rows that changed while it waited for them, so a
# request another replica closed meanwhile is skipped.
_DUE = """
SELECT id, status FROM join_requests
WHERE status IN ('pending', 'dispatched') AND deadline <= now()
ORDER BY id
LIMIT $1
FOR NO KEY UPDATE
"""


async def sweep_once(connection: Any, limit: int = BATCH) -> tuple[int, int]:
    """Close up to `limit` requests past their deadline: (requests closed, devices expired)."""
    async with connection.transaction():
        due = await connection.fetch(_DUE, limit)
        if not due:
            return 0, 0
        pending = [row["id"] for row in due if row["status"] == PENDING]
        expired = await close_requests(connection, [row["id"] for row in due], pending)
    return len(due), expired


class Sweeper:
    """A duty of the dispatcher's process: sweep at start, then every interval."""

    def __init__(self, metrics: DispatcherMetrics, interval_seconds: float) -> None:
        self._metrics = metrics
        self._interval = interval_seconds

    async def run(self, pool: Any, log: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with pool.acquire() as connection:
                    closed, expired = BATCH, 0
                    while closed == BATCH and not stop.is_set():
                        closed, expired = await sweep_once(connection)
                        self._counted(log, closed, expired)
            except Exception as exc:  # the sweep must never take the dispatcher down
                log.warning("join deadline sweep failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)

    def _counted(self, log: Any, closed: int, expired: int) -> None:
        if not closed:
            return
        self._metrics.requests_closed.labels(by="sweep").inc(closed)
        self._metrics.deliveries_expired.inc(expired)
        log.info("join requests closed at their deadline", requests=closed, expired=expired)
