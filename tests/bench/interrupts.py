"""Ctrl-C and SIGTERM stop the benchmark once, and never its clean-up.

The first SIGINT or SIGTERM interrupts the run: outside the event loop as KeyboardInterrupt,
inside it by cancelling the main task so every ``finally`` (stopping ingesters, closing
connections) runs in order. From then on both signals are ignored, so that dropping the
database and deleting the vhost cannot be cut short by a second Ctrl-C.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Owns this process's SIGINT and SIGTERM handling while the benchmark runs."""

    def __init__(self) -> None:
        self.interrupted = False

    def install(self) -> None:
        """Handle both signals in plain (not async) code: raise KeyboardInterrupt once."""
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN if self.interrupted else self._raise)

    def _ignore_from_now_on(self) -> None:
        self.interrupted = True
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        self._ignore_from_now_on()
        raise KeyboardInterrupt

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Await work; an interrupt cancels it, and surfaces as KeyboardInterrupt."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None

        def cancel() -> None:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)
            self._ignore_from_now_on()
            main.cancel()

        for sig in _SIGNALS:
            loop.add_signal_handler(sig, cancel)
        try:
            return await work
        except asyncio.CancelledError:
            if self.interrupted:
                raise KeyboardInterrupt from None
            raise
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)
            self.install()  # the loop's removal restored the defaults


INTERRUPTS = Interrupts()
