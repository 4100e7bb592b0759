"""Device lookups for the broker-auth endpoints: one query, cached briefly, shared in flight.

A found device is reused for the configured time (IOT_BROKER_AUTH_CACHE_SECONDS), which bounds
how long a revocation or a credential rotation takes to reach the broker. An unknown id is
remembered only briefly: a device registered a moment after someone tried its id must be able
to log in at once. Concurrent questions about one device wait for one query instead of each
sending their own. Failures are never cached.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from api_gateway.broker_auth.cache import TtlCache
from api_gateway.broker_auth.policy import DeviceRecord

# Long enough to absorb a device retrying a refused login in a tight loop.
NEGATIVE_TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000

_SELECT_DEVICE = """
SELECT id, project_id, group_name, revoked_at IS NOT NULL AS revoked, secret_hash
FROM devices
WHERE id = $1
"""


@dataclass(frozen=True)
class DeviceEntry:
    """A device's record and the hash its password must match."""

    record: DeviceRecord
    secret_hash: bytes


Fetch = Callable[[str], Awaitable[DeviceEntry | None]]
LookupObserver = Callable[[str], None]


def database_fetch(pool: Any) -> Fetch:
    """Fetch one device row through an asyncpg pool."""

    async def fetch(device_id: str) -> DeviceEntry | None:
        async with pool.acquire() as connection:
            row = await connection.fetchrow(_SELECT_DEVICE, device_id)
        if row is None:
            return None
        record = DeviceRecord(
            id=row["id"], project=row["project_id"], group=row["group_name"], revoked=row["revoked"]
        )
        return DeviceEntry(record=record, secret_hash=bytes(row["secret_hash"]))

    return fetch


class DeviceDirectory:
    """Devices by id, from `fetch`, through a TTL cache."""

    def __init__(
        self,
        fetch: Fetch,
        ttl: float,
        *,
        negative_ttl: float = NEGATIVE_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        observe: LookupObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._negative_ttl = min(negative_ttl, ttl)
        self._cache: TtlCache[str, DeviceEntry | None] = TtlCache(max_entries, clock)
        self._in_flight: dict[str, asyncio.Task[DeviceEntry | None]] = {}
        self._observe: LookupObserver = observe or (lambda outcome: None)

    async def get(self, device_id: str) -> DeviceEntry | None:
        """The device, or None when no device has this id; raises when the lookup failed."""
        found, entry = self._cache.get(device_id)
        if found:
            self._observe("cached")
            return entry
        task = self._in_flight.get(device_id)
        if task is None:
            # A task of its own: the caller that started the query may be cancelled (RabbitMQ
            # hung up) while others wait for the same answer.
            task = asyncio.create_task(self._load(device_id))
            self._in_flight[device_id] = task
            task.add_done_callback(functools.partial(self._finished, device_id))
        else:
            self._observe("shared")
        return await asyncio.shield(task)

    async def _load(self, device_id: str) -> DeviceEntry | None:
        try:
            entry = await self._fetch(device_id)
        except Exception:
            self._observe("failed")
            raise
        self._observe("fetched")
        self._cache.put(device_id, entry, self._ttl if entry is not None else self._negative_ttl)
        return entry

    def _finished(self, device_id: str, task: asyncio.Task[DeviceEntry | None]) -> None:
        if self._in_flight.get(device_id) is task:
            del self._in_flight[device_id]
