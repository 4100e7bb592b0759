"""Dispatching a join request: record its targets, publish one JOIN per device, record that.

The steps keep a request safe whatever fails; its AMQP message is acked only after the last:
1. One transaction locks the request row and checks it. Unknown, or no longer open (closed,
   failed): nothing to do (acked and logged; the gateway records a request before publishing
   it, so an unknown one is not ours to invent). Past its deadline: closed at once, every
   target expired, nothing published. Otherwise the group's unrevoked devices are recorded as
   targets (ON CONFLICT DO NOTHING, so a redelivered request adds no rows) and committed
   *before* anything is published: a device's acknowledgement, which can come back within
   milliseconds, must always find its row.
2. Every target whose JOIN is not yet recorded as published gets one (joins.py): persistent,
   mandatory, expiring at the deadline, confirmed by the broker.
3. A second transaction records published_at for the confirmed JOINs and, when none is
   missing, moves the request from pending to dispatched.
4. JOINs the broker did not confirm are retried, only those, with backoff, until confirmed or
   the deadline passes (the sweep then counts those devices expired). If the service is told
   to stop first, the handler fails: the message stays unacknowledged and RabbitMQ redelivers
   it, as after a crash at any step.
A redelivered request re-enters at step 1 and publishes only what was not confirmed before, so
nothing is lost and, but for a crash between a confirm and its commit, no JOIN is sent twice
(devices treat a repeated JOIN as the same JOIN anyway).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from iot_messaging import Backoff

from join_dispatcher.decode import RequestRef
from join_dispatcher.joins import JoinPublisher, JoinRequestRow, PublishRound, Target
from join_dispatcher.metrics import DispatcherMetrics
from join_dispatcher.status import PENDING
from join_dispatcher.store import (
    LOCK_REQUEST,
    TARGETS,
    close_requests,
    insert_targets,
    mark_dispatched,
    mark_published,
)

_OPEN = ("pending", "dispatched")
_LOCK_STATUS = "SELECT status FROM join_requests WHERE id = $1 FOR NO KEY UPDATE"


class JoinsNotConfirmedError(Exception):
    """The service stopped before the broker confirmed every JOIN; the request is redelivered."""


class Dispatcher:
    """The batch handler of project.all.join_requests.dispatcher."""

    def __init__(
        self,
        *,
        pool: Any,
        joins: JoinPublisher,
        metrics: DispatcherMetrics,
        log: Any,
        stop: asyncio.Event,
        max_backoff_seconds: float,
    ) -> None:
        self._pool = pool
        self._joins = joins
        self._metrics = metrics
        self._log = log
        self._stop = stop
        self._max_backoff = max_backoff_seconds

    async def __call__(self, requests: Sequence[RequestRef]) -> None:
        # One at a time: each request already publishes to its devices concurrently.
        for ref in requests:
            await self._dispatch(ref)

    async def _dispatch(self, ref: RequestRef) -> None:
        started = time.monotonic()
        prepared = await self._prepare(ref)
        if prepared is None:
            return
        request, targets = prepared
        backoff = Backoff(maximum=self._max_backoff)
        published, too_late, dispatched, first_round = 0, 0, False, True
        while True:
            result = await self._joins.publish(request, targets, concurrently=first_round)
            first_round = False
            dispatched = await self._record(request, result) or dispatched
            published += len(result.confirmed)
            too_late += len(result.too_late)
            if not result.failed:
                break
            self._metrics.joins_unconfirmed.inc(len(result.failed))
            self._log.warning(
                "JOINs not confirmed by the broker, retrying them",
                request_id=str(request.id),
                devices=len(result.failed),
                reason=next(iter(result.failed.values())),
                attempt=backoff.attempt + 1,
            )
            # Step 4. Retried until the deadline at most: then every JOIN is too late.
            if not await backoff.wait(self._stop):
                raise JoinsNotConfirmedError(
                    f"stopped with {len(result.failed)} JOINs of {request.id} unconfirmed"
                )
            # Re-read, not reuse: a device revoked meanwhile (its queue deleted, so its JOIN
            # comes back unroutable every time) drops out instead of being retried until the
            # deadline while every later request waits behind this one.
            targets = [t for t in await self._targets(request.id) if t.device_id in result.failed]
        self._log.info(
            "join request dispatched",
            request_id=str(request.id),
            project=request.project,
            group=request.group,
            published=published,
            too_late=too_late,
            newly_dispatched=dispatched,
            seconds=round(time.monotonic() - started, 3),
        )

    async def _prepare(self, ref: RequestRef) -> tuple[JoinRequestRow, list[Target]] | None:
        """Step 1: the request and the targets still to publish, or None if nothing is to do."""
        expired = 0
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(LOCK_REQUEST, ref.request_id)
            status = None if row is None else row["status"]
            if status in _OPEN and row["overdue"]:
                never_dispatched = [row["id"]] if status == PENDING else []
                expired = await close_requests(connection, [row["id"]], never_dispatched)
            elif status in _OPEN:
                if status == PENDING:
                    await insert_targets(connection, [row["id"]])
                return _request(row), await _targets(connection, row["id"])
        # Nothing to publish. Counted and logged after the commit: a retried batch must not
        # count twice.
        if status in _OPEN:
            self._closed_late(ref, row["deadline"], expired)
        else:
            self._ignored(ref, status)
        return None

    async def _targets(self, request_id: uuid.UUID) -> list[Target]:
        async with self._pool.acquire() as connection:
            return await _targets(connection, request_id)

    def _ignored(self, ref: RequestRef, status: str | None) -> None:
        reason = "unknown" if status is None else "settled"
        self._metrics.requests_ignored.labels(reason=reason).inc()
        self._log.info(
            "join request ignored",
            request_id=str(ref.request_id),
            project=ref.project,
            reason=reason,
            status=status,
        )

    def _closed_late(self, ref: RequestRef, deadline: datetime, expired: int) -> None:
        self._metrics.requests_closed.labels(by="late").inc()
        self._metrics.deliveries_expired.inc(expired)
        self._log.warning(
            "join request arrived after its deadline; closed, nothing published",
            request_id=str(ref.request_id),
            deadline=deadline.isoformat(),
            expired=expired,
        )

    async def _record(self, request: JoinRequestRow, result: PublishRound) -> bool:
        """Step 3: published_at of the confirmed JOINs; dispatched when none is missing.

        Returns whether this call moved the request to dispatched.
        """
        complete = not result.failed
        if not result.confirmed and not complete:
            return False
        async with self._pool.acquire() as connection, connection.transaction():
            # The request first, then its deliveries: the service's lock order (store.py).
            await connection.fetchval(_LOCK_STATUS, request.id)
            await mark_published(connection, request.id, result.confirmed)
            dispatched = complete and await mark_dispatched(connection, request.id)
        self._metrics.joins_published.inc(len(result.confirmed))
        if dispatched:
            self._metrics.requests_dispatched.inc()
        return dispatched


async def _targets(connection: Any, request_id: uuid.UUID) -> list[Target]:
    """The request's unrevoked targets whose JOIN is not yet recorded as published."""
    rows = await connection.fetch(TARGETS, request_id)
    return [Target(t["device_id"], t["name"]) for t in rows]


def _request(row: Any) -> JoinRequestRow:
    return JoinRequestRow(
        id=row["id"],
        project=row["project_id"],
        group=row["group_name"],
        session_id=row["session_id"],
        session_name=row["session_name"],
        session_metadata_json=row["session_metadata"],
        deadline=row["deadline"],
    )
