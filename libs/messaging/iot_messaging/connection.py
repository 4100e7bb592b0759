"""Connect to RabbitMQ, retrying with backoff until connected or told to stop."""

from __future__ import annotations

import asyncio
from typing import Any

import aiormq
from aiormq.abc import AbstractConnection

from iot_messaging.backoff import Backoff

# What a broken connection or channel raises (aiormq's ChannelInvalidStateError is a
# RuntimeError); callers treat each as "reconnect", never as a crash.
BROKER_ERRORS = (aiormq.exceptions.AMQPError, OSError, TimeoutError, RuntimeError)


def redact(url: str) -> str:
    """The URL without its password, for log lines."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


async def connect_with_retry(
    url: str, log: Any, stop: asyncio.Event | None = None, max_delay: float = 10.0
) -> AbstractConnection | None:
    """Return an open connection, or None if stop was set before one could be made."""
    backoff = Backoff(maximum=max_delay)
    while stop is None or not stop.is_set():
        try:
            connection = await aiormq.connect(url)
        except (OSError, aiormq.exceptions.AMQPError, TimeoutError) as exc:
            delay_note = "retrying"
            log.warning("amqp connect failed", url=redact(url), error=repr(exc), note=delay_note)
            if not await backoff.wait(stop):
                return None
            continue
        log.info("amqp connected", url=redact(url))
        return connection
    return None
