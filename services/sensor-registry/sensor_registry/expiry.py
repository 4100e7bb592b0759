"""The command expiry sweep: close commands no outcome was acknowledged for in time.

A command open (pending or delivered) past its expires_at plus a grace period becomes
'expired' with completed_at set and acked_at left NULL, so a late outcome from the sensor still
replaces it. The grace covers an outcome already on its way when the deadline passes. Every
registry replica sweeps; the statement is idempotent, and rows are locked in id order, like the
acknowledgement handler does, so a sweep and an ack batch cannot deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from iot_messaging.app import Duty, DutyFactory
from iot_service import ServiceMetrics

REASON = "no outcome acknowledged by the deadline"

# FOR UPDATE re-checks the status of rows that changed while it waited for them, so a command
# whose outcome was committed meanwhile is skipped; the UPDATE checks again anyway.
_SWEEP = """
WITH due AS MATERIALIZED (
    SELECT id FROM commands
    WHERE status IN ('pending', 'delivered')
      AND expires_at < now() - $1::float8 * interval '1 second'
    ORDER BY id
    FOR NO KEY UPDATE
)
UPDATE commands AS c
SET status = 'expired', reason = $2::text, completed_at = now()
FROM due
WHERE c.id = due.id AND c.status IN ('pending', 'delivered')
"""


def expiry_duty(interval_seconds: float, grace_seconds: float) -> DutyFactory:
    """A ConsumerApp duty that sweeps at start and then every interval_seconds."""

    def build(metrics: ServiceMetrics) -> Duty:
        return _Sweeper(metrics, interval_seconds, grace_seconds).run

    return build


async def sweep(connection: Any, grace_seconds: float) -> int:
    """Expire every command open past its deadline plus grace_seconds; how many."""
    status: str = await connection.execute(_SWEEP, grace_seconds, REASON)
    return int(status.rsplit(" ", 1)[1])


class _Sweeper:
    def __init__(self, metrics: ServiceMetrics, interval_seconds: float, grace_seconds: float):
        self._expired = metrics.counter("commands_expired", "Open commands expired by the sweep")
        self._interval = interval_seconds
        self._grace = grace_seconds

    async def run(self, pool: Any, log: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with pool.acquire() as connection:
                    count = await sweep(connection, self._grace)
                self._expired.inc(count)
                if count:
                    log.info("commands expired", count=count, grace_seconds=self._grace)
            except Exception as exc:  # the sweep must never take the registry down
                log.warning("command expiry sweep failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
