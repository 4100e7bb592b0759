"""The presence ping: every interval, one DevicePing to each group with an unrevoked device.

One message per group (its routing key reaches every device queue of the group), expiring
after one interval: a device that is offline finds at most one ping when it comes back, not a
backlog. Pings are not mandatory: a group none of whose devices has a queue is not an error,
and a lost ping is replaced by the next one. (They are persistent like every message of the
Publisher; that costs nothing extra, device queues being quorum queues, which write every
message to disk anyway.) The devices' pongs update presence (pongs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import DevicePing
from iot_messaging import Publisher, PublishError
from iot_routing import ping_key

from join_dispatcher.metrics import DispatcherMetrics

_GROUPS = """
SELECT DISTINCT project_id, group_name FROM devices
WHERE revoked_at IS NULL
ORDER BY project_id, group_name
"""


class Pinger:
    """A duty of the dispatcher's process: ping every group at start, then every interval."""

    def __init__(
        self,
        publisher: Publisher,
        metrics: DispatcherMetrics,
        interval_seconds: float,
        concurrency: int,
        timeout_seconds: float,
    ) -> None:
        self._publisher = publisher
        self._metrics = metrics
        self._interval = interval_seconds
        self._concurrency = concurrency
        self._timeout = timeout_seconds

    async def run(self, pool: Any, log: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.ping_all(pool, log)
            except Exception as exc:  # pinging must never take the dispatcher down
                log.warning("ping round failed", error=repr(exc))
            # A fixed rhythm: the round's own duration is part of the interval.
            wait = max(0.0, self._interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def ping_all(self, pool: Any, log: Any) -> None:
        async with pool.acquire() as connection:
            groups = await connection.fetch(_GROUPS)
        slots = asyncio.Semaphore(self._concurrency)
        failures: list[str] = []

        async def ping(project: str, group: str) -> None:
            sent_at = Timestamp()
            sent_at.GetCurrentTime()
            message = DevicePing(
                ping_id=str(uuid.uuid4()), sent_at=sent_at, interval_seconds=self._interval
            )
            async with slots:
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._publisher.publish(
                            ping_key(project, group),
                            message,
                            expiration_ms=max(1, int(self._interval * 1000)),
                            timeout=self._timeout,
                            mandatory=False,
                        )
                except (PublishError, TimeoutError) as exc:
                    failures.append(str(exc) or "no confirm in time")

        await asyncio.gather(*(ping(row["project_id"], row["group_name"]) for row in groups))
        self._metrics.pings_published.inc(len(groups) - len(failures))
        self._metrics.ping_failures.inc(len(failures))
        if failures:
            log.warning("pings not confirmed", groups=len(failures), reason=failures[0])
        log.debug("groups pinged", groups=len(groups))
