"""The device's bounded memory of joined requests: bounded, least recently used goes first."""

from __future__ import annotations

import pytest
from iot_device.memory import BoundedMemory


def test_it_recalls_what_it_remembers() -> None:
    memory: BoundedMemory[str, str] = BoundedMemory(4)
    memory.remember("request-1", "session-1")
    assert "request-1" in memory
    assert memory.recall("request-1") == "session-1"
    assert memory.recall("request-2") is None
    assert "request-2" not in memory


def test_it_forgets_the_least_recently_used_entry_beyond_its_capacity() -> None:
    memory: BoundedMemory[str, int] = BoundedMemory(3)
    for number in range(3):
        memory.remember(f"r{number}", number)
    memory.recall("r0")  # used again: r1 is now the oldest
    memory.remember("r3", 3)
    assert len(memory) == 3
    assert "r1" not in memory
    assert all(key in memory for key in ("r0", "r2", "r3"))


def test_remembering_a_key_again_refreshes_it_without_growing() -> None:
    memory: BoundedMemory[str, int] = BoundedMemory(2)
    memory.remember("a", 1)
    memory.remember("b", 2)
    memory.remember("a", 10)
    memory.remember("c", 3)
    assert (memory.recall("a"), "b" in memory, len(memory)) == (10, False, 2)


def test_a_memory_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BoundedMemory(0)
