"""asyncpg connection pools that start even while PostgreSQL is down."""

from __future__ import annotations

from typing import Any

import asyncpg


async def create_pool(url: str, application_name: str, max_size: int = 4) -> Any:
    """A pool with no connections up front: the service starts and becomes ready later.

    Connections are opened on demand; a failed acquire raises an error that `is_transient`
    classifies, so callers retry instead of crashing when PostgreSQL is down at start-up.
    """
    return await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=max_size,
        max_inactive_connection_lifetime=60,
        command_timeout=60,
        server_settings={"application_name": application_name},
    )
