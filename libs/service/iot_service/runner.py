"""Run a service's main coroutine until SIGTERM or SIGINT, then let it shut down cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from iot_service.health import Health

HEARTBEAT_SECONDS = 1.0


async def _heartbeat(health: Health) -> None:
    while True:
        health.beat()
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def _supervise(main: Callable[[asyncio.Event], Awaitable[None]], health: Health) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beat = asyncio.create_task(_heartbeat(health))
    try:
        await main(stop)
    finally:
        beat.cancel()


def run_service(main: Callable[[asyncio.Event], Awaitable[None]], health: Health) -> None:
    """Run main(stop) in a new event loop; `stop` is set on SIGTERM/SIGINT.

    main must return once it has finished or handed back its in-flight work.
    """
    asyncio.run(_supervise(main, health))
