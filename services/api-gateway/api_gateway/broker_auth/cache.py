"""A small in-process cache with an expiry per entry and a bound on its size.

RabbitMQ asks about a device several times per connection (login, vhost, then each queue,
exchange and routing key the first time a channel uses it), and a fleet reconnecting after a
broker restart asks about every device at once: answering from memory for a few seconds keeps
that off the database. Entries are evicted least recently used first once the bound is reached,
so a flood of made-up user names cannot grow the process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


class TtlCache(Generic[K, V]):
    """Values that expire `ttl` seconds after they were put (each put chooses its ttl)."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a live entry, (False, None) when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry.value

    def put(self, key: K, value: V, ttl: float) -> None:
        """Keep value for ttl seconds (not at all when ttl <= 0)."""
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = _Entry(value, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
