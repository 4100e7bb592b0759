"""Periodic storage maintenance: iot_maintain() creates partitions and applies retention.

Every ingester runs it; the function itself lets only one caller at a time do the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def maintenance_duty(interval_seconds: float) -> Any:
    """A duty for ConsumerApp that calls iot_maintain() now and then every interval."""

    async def run(pool: Any, log: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with pool.acquire() as connection:
                    summary = await connection.fetchval("SELECT iot_maintain()")
                log.info("storage maintenance done", summary=summary)
            except Exception as exc:  # maintenance must never take the ingester down
                log.warning("storage maintenance failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)

    return run
