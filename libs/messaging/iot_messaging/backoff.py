"""Exponential backoff with full jitter, so that many replicas do not retry in lockstep."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays of base * 2**attempt, capped, each drawn uniformly from [cap/2, cap]."""

    def __init__(self, base: float = 0.2, maximum: float = 10.0) -> None:
        self.base = base
        self.maximum = maximum
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)  # jitter, not cryptography

    def reset(self) -> None:
        self.attempt = 0

    async def wait(self, stop: asyncio.Event | None = None) -> bool:
        """Sleep for the next delay; return False early if stop is set meanwhile."""
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
            return True
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return True
        return False
