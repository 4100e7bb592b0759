"""Progress lines with the time since the start, and a ticker for phases that take a while."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable

TICK_SECONDS = 1.0


class Progress:
    """Prints ``[  12.3s] message`` lines, flushed at once so a terminal sees them move."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f}s] {message}", file=sys.stdout, flush=True)

    def detail(self, message: str) -> None:
        """An indented line without a time stamp (results, notes)."""
        print(f"          {message}", file=sys.stdout, flush=True)

    @contextlib.asynccontextmanager
    async def ticking(self, status: Callable[[], str]) -> AsyncIterator[None]:
        """While the block runs, print ``status()`` every second."""

        async def tick() -> None:
            while True:
                await asyncio.sleep(TICK_SECONDS)
                self.say("  ... " + status())

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


class Counter:
    """Rows done out of a total, for progress lines."""

    def __init__(self, total: int, unit: str = "rows") -> None:
        self.total = total
        self.done = 0
        self.unit = unit
        self._started = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count

    def status(self) -> str:
        share = self.done / self.total if self.total else 1.0
        elapsed = time.monotonic() - self._started
        return f"{share:4.0%} ({self.done:,}/{self.total:,} {self.unit}, {elapsed:.1f} s)"
