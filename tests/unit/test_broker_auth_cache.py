"""The device directory's cache: expiry, the size bound, brief negatives, shared lookups."""

from __future__ import annotations

import asyncio
import gc

import pytest
from api_gateway.broker_auth.cache import TtlCache
from api_gateway.broker_auth.directory import DeviceDirectory, DeviceEntry
from api_gateway.broker_auth.policy import DeviceRecord

DEVICE = "dev-aaaaaaaaaaaaaaaa"
ENTRY = DeviceEntry(DeviceRecord(DEVICE, "p1", "g1", revoked=False), secret_hash=b"\x00" * 32)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeDevices:
    """A fetch that counts its calls and answers from a dict (or raises, or waits)."""

    def __init__(self, entries: dict[str, DeviceEntry]) -> None:
        self.entries = entries
        self.calls: list[str] = []
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, device_id: str) -> DeviceEntry | None:
        self.calls.append(device_id)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.entries.get(device_id)


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(10, clock)
    cache.put("a", 1, ttl=5)
    assert cache.get("a") == (True, 1)
    clock.now += 4.9
    assert cache.get("a") == (True, 1)
    clock.now += 0.1
    assert cache.get("a") == (False, None)
    assert len(cache) == 0


def test_none_is_a_value_distinct_from_absent() -> None:
    cache: TtlCache[str, int | None] = TtlCache(10, Clock())
    cache.put("a", None, ttl=1)
    assert cache.get("a") == (True, None)
    assert cache.get("b") == (False, None)


def test_the_least_recently_used_entry_goes_first_at_the_bound() -> None:
    cache: TtlCache[str, int] = TtlCache(2, Clock())
    cache.put("a", 1, ttl=10)
    cache.put("b", 2, ttl=10)
    cache.get("a")  # b is now the least recently used
    cache.put("c", 3, ttl=10)
    assert len(cache) == 2
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1)
    assert cache.get("c") == (True, 3)


def test_a_zero_ttl_stores_nothing_and_drops_what_was_there() -> None:
    cache: TtlCache[str, int] = TtlCache(2, Clock())
    cache.put("a", 1, ttl=10)
    cache.put("a", 2, ttl=0)
    assert cache.get("a") == (False, None)
    with pytest.raises(ValueError):
        TtlCache(0)


async def test_a_found_device_is_reused_for_the_ttl() -> None:
    clock, devices, outcomes = Clock(), FakeDevices({DEVICE: ENTRY}), list[str]()
    directory = DeviceDirectory(devices, ttl=5, observe=outcomes.append, clock=clock)
    assert await directory.get(DEVICE) == ENTRY
    clock.now += 4.9
    assert await directory.get(DEVICE) == ENTRY
    assert devices.calls == [DEVICE]
    clock.now += 0.2
    assert await directory.get(DEVICE) == ENTRY
    assert devices.calls == [DEVICE, DEVICE]
    assert outcomes == ["fetched", "cached", "fetched"]


async def test_an_unknown_device_is_remembered_only_briefly() -> None:
    clock, devices = Clock(), FakeDevices({})
    directory = DeviceDirectory(devices, ttl=5, negative_ttl=1, clock=clock)
    assert await directory.get(DEVICE) is None
    clock.now += 0.5
    assert await directory.get(DEVICE) is None
    assert len(devices.calls) == 1
    # Registered in the meantime: found as soon as the negative entry expires.
    devices.entries[DEVICE] = ENTRY
    clock.now += 0.6
    assert await directory.get(DEVICE) == ENTRY


async def test_the_negative_ttl_never_exceeds_the_ttl() -> None:
    clock, devices = Clock(), FakeDevices({})
    directory = DeviceDirectory(devices, ttl=0.2, negative_ttl=1, clock=clock)
    await directory.get(DEVICE)
    clock.now += 0.3
    await directory.get(DEVICE)
    assert len(devices.calls) == 2


async def test_a_zero_ttl_asks_every_time() -> None:
    devices = FakeDevices({DEVICE: ENTRY})
    directory = DeviceDirectory(devices, ttl=0)
    for _ in range(3):
        await directory.get(DEVICE)
    assert len(devices.calls) == 3


async def test_failures_propagate_and_are_not_cached() -> None:
    devices, outcomes = FakeDevices({DEVICE: ENTRY}), list[str]()
    directory = DeviceDirectory(devices, ttl=5, observe=outcomes.append)
    devices.error = ConnectionError("database down")
    with pytest.raises(ConnectionError):
        await directory.get(DEVICE)
    devices.error = None
    assert await directory.get(DEVICE) == ENTRY
    assert outcomes == ["failed", "fetched"]


async def test_concurrent_questions_share_one_lookup() -> None:
    devices, outcomes = FakeDevices({DEVICE: ENTRY}), list[str]()
    devices.gate = asyncio.Event()
    directory = DeviceDirectory(devices, ttl=5, observe=outcomes.append)
    waiters = [asyncio.create_task(directory.get(DEVICE)) for _ in range(5)]
    await asyncio.sleep(0)
    devices.gate.set()
    assert await asyncio.gather(*waiters) == [ENTRY] * 5
    assert devices.calls == [DEVICE]
    assert sorted(outcomes) == ["fetched", *["shared"] * 4]


async def test_a_cancelled_asker_does_not_cancel_the_others_lookup() -> None:
    devices = FakeDevices({DEVICE: ENTRY})
    devices.gate = asyncio.Event()
    directory = DeviceDirectory(devices, ttl=5)
    first = asyncio.create_task(directory.get(DEVICE))
    await asyncio.sleep(0)
    second = asyncio.create_task(directory.get(DEVICE))
    await asyncio.sleep(0)
    first.cancel()
    devices.gate.set()
    assert await second == ENTRY
    with pytest.raises(asyncio.CancelledError):
        await first
    assert devices.calls == [DEVICE]


async def test_a_failure_nobody_waits_for_is_not_reported_as_unretrieved() -> None:
    devices = FakeDevices({})
    devices.gate = asyncio.Event()
    devices.error = ConnectionError("database down")
    directory = DeviceDirectory(devices, ttl=5)
    unhandled: list[object] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: unhandled.append(context)
    )
    asker = asyncio.create_task(directory.get(DEVICE))
    await asyncio.sleep(0)
    asker.cancel()
    devices.gate.set()
    await asyncio.sleep(0.01)
    gc.collect()  # an unretrieved exception is reported when its task is collected
    assert unhandled == []
    # ... and the next question asks again.
    devices.error = None
    devices.gate = None
    assert await directory.get(DEVICE) is None
