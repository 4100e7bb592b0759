"""Declare exchanges, queues, dead-letter queues and bindings exactly as libs/routing says."""

from __future__ import annotations

from aiormq.abc import AbstractChannel
from iot_routing import DEAD_LETTER_EXCHANGE, EXCHANGE, Exchange, QueueSpec


async def _declare_exchange(channel: AbstractChannel, exchange: Exchange) -> None:
    await channel.exchange_declare(
        exchange=exchange.name, exchange_type=exchange.type, durable=exchange.durable
    )


async def declare_queue(channel: AbstractChannel, queue: QueueSpec) -> None:
    """Declare one queue (and its dead-letter queue first) with its bindings."""
    dead_letter = queue.dead_letter
    if dead_letter is not None:
        await declare_queue(channel, dead_letter)
    await channel.queue_declare(queue.name, durable=True, arguments=queue.arguments)
    for key in queue.bindings:
        await channel.queue_bind(queue.name, queue.exchange.name, routing_key=key)


async def declare_topology(
    channel: AbstractChannel, *queues: QueueSpec, exchanges: bool = True
) -> None:
    """Declare both exchanges and the given queues; safe to repeat (declarations are idempotent).

    exchanges=False leaves the exchanges to the broker's definitions, for a user that may not
    configure them (a sensor: configure on an exchange includes deleting it).
    """
    if exchanges:
        await _declare_exchange(channel, EXCHANGE)
        await _declare_exchange(channel, DEAD_LETTER_EXCHANGE)
    for queue in queues:
        await declare_queue(channel, queue)
