"""A bounded memory of recent keys: what a device remembers about the joins it performed.

A device runs for months; remembering every request it ever joined would grow without end.
Redeliveries and republished JOINs arrive within a request's deadline (minutes to a day), so the
most recent few hundred requests are all a device needs to answer a repeated JOIN alike.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_CAPACITY = 1024


class BoundedMemory(Generic[K, V]):
    """A mapping that forgets its least recently used entry beyond `capacity` entries."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()

    def remember(self, key: K, value: V) -> None:
        """Store (or refresh) key; the oldest entry goes when the memory is full."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def recall(self, key: K) -> V | None:
        """The value stored for key, or None; a hit counts as a use (it is kept longer)."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
