"""asyncpg connection pools that start even while PostgreSQL is down."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from iot_storage.errors import is_transient

PROBE_SECONDS = 5.0


async def create_pool(
    url: str, application_name: str, max_size: int = 4, statement_timeout_ms: int | None = None
) -> Any:
    """A pool with no connections up front: the service starts and becomes ready later.

    Connections are opened on demand; a failed acquire raises an error that `is_transient`
    classifies, so callers retry instead of crashing when PostgreSQL is down at start-up.
    With statement_timeout_ms, the server cancels any statement of these connections that runs
    longer (QueryCanceledError).
    """
    settings = {"application_name": application_name}
    if statement_timeout_ms is not None:
        settings["statement_timeout"] = str(statement_timeout_ms)
    return await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=max_size,
        max_inactive_connection_lifetime=60,
        command_timeout=60,
        server_settings=settings,
    )


async def watch_database(
    pool: Any, health: Any, stop: asyncio.Event, interval: float = PROBE_SECONDS
) -> None:
    """Keep health's 'database' readiness condition true to life, even when nothing is written."""
    while not stop.is_set():
        try:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
            health.set("database", True)
        except Exception as exc:  # any failure to reach the database means not ready
            health.set("database", not is_transient(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
