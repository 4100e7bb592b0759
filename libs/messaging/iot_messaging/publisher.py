"""Persistent, confirmed publishing of protobuf messages on the iot exchange."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection
from google.protobuf.message import Message
from iot_routing import EXCHANGE, QueueSpec

from iot_messaging.backoff import Backoff
from iot_messaging.connection import BROKER_ERRORS, connect_with_retry
from iot_messaging.topology import declare_queue, declare_topology

CONTENT_TYPE = "application/x-protobuf"
PERSISTENT = 2


class PublishError(Exception):
    """The broker did not confirm the message (nacked, unroutable, or the connection failed)."""


def message_properties(
    message: Message, *, expiration_ms: int | None = None, user_id: str | None = None
) -> aiormq.spec.Basic.Properties:
    """Properties of a persistent protobuf message.

    `user_id` is for publishers that log in with a credential of their own (devices): the
    broker refuses a message whose user_id is not the connection's user, so consumers can
    trust it to name the sender.
    """
    return aiormq.spec.Basic.Properties(
        delivery_mode=PERSISTENT,
        content_type=CONTENT_TYPE,
        message_type=message.DESCRIPTOR.full_name,
        expiration=str(expiration_ms) if expiration_ms is not None else None,
        user_id=user_id,
    )


async def publish_confirmed(
    channel: AbstractChannel,
    routing_key: str,
    message: Message,
    *,
    expiration_ms: int | None = None,
    user_id: str | None = None,
    timeout: float = 10.0,
    mandatory: bool = True,
) -> None:
    """Publish once, mandatory, on a channel opened with publisher confirms; wait for the ack.

    For callers that own their channel. Raises PublishError if the broker nacks the message;
    a returned (unroutable) message or a broken channel raises one of BROKER_ERRORS. With
    mandatory=False an unroutable message is confirmed and dropped: for broadcasts nobody may
    be listening to (presence pings).
    """
    confirmation = await channel.basic_publish(
        message.SerializeToString(),
        exchange=EXCHANGE.name,
        routing_key=routing_key,
        properties=message_properties(message, expiration_ms=expiration_ms, user_id=user_id),
        mandatory=mandatory,
        timeout=timeout,
    )
    if not isinstance(confirmation, aiormq.spec.Basic.Ack):
        raise PublishError(f"broker refused message for {routing_key}: {confirmation!r}")


class Publisher:
    """Publishes with publisher confirms on one lazily opened, self-healing channel.

    `publish` returns only once RabbitMQ has confirmed the message, which for persistent
    messages on quorum queues means it is replicated to disk. Messages are published with the
    mandatory flag, so a message no queue would take is an error rather than silently dropped.
    """

    def __init__(
        self,
        url: str,
        log: Any,
        declare: tuple[QueueSpec, ...] = (),
        max_delay: float = 10.0,
        declare_exchanges: bool = True,
    ) -> None:
        self._url = url
        self._log = log
        self._declare = declare
        self._declare_exchanges = declare_exchanges
        self._max_delay = max_delay
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        # Queues declared on the current connection by ensure_queue.
        self._declared: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def _ensure_channel(self, stop: asyncio.Event | None) -> AbstractChannel:
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            await self._close_connection()
            connection = await connect_with_retry(self._url, self._log, stop, self._max_delay)
            if connection is None:
                raise PublishError("stopped before the broker could be reached")
            self._connection = connection
            try:
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                await declare_topology(channel, *self._declare, exchanges=self._declare_exchanges)
            except BROKER_ERRORS as exc:
                await self._close_connection()
                raise PublishError(f"cannot open a publishing channel: {exc!r}") from exc
            self._channel = channel
            return channel

    async def ensure_channel(self, stop: asyncio.Event | None = None) -> None:
        """Connect now if not connected (for readiness probes); PublishError on failure."""
        await self._ensure_channel(stop)

    async def ensure_queue(self, queue: QueueSpec, stop: asyncio.Event | None = None) -> None:
        """Declare a queue and its bindings before publishing to it, once per connection.

        For queues whose consumer may not have started yet (a sensor's command queue): the
        message then waits in the queue instead of being unroutable.
        """
        channel = await self._ensure_channel(stop)
        if queue.name in self._declared:
            return
        try:
            # The exchanges were declared (or left to the broker) when the channel opened.
            await declare_queue(channel, queue)
        except BROKER_ERRORS as exc:
            await self._reset(channel)
            raise PublishError(f"cannot declare {queue.name}: {exc!r}") from exc
        self._declared.add(queue.name)

    async def delete_queue(self, name: str, stop: asyncio.Event | None = None) -> None:
        """Delete a queue (and cancel its consumers); deleting a missing queue succeeds.

        Forgets it for ensure_queue too, so a later ensure_queue declares it again.
        """
        channel = await self._ensure_channel(stop)
        self._declared.discard(name)
        try:
            await channel.queue_delete(name)
        except BROKER_ERRORS as exc:
            await self._reset()
            raise PublishError(f"cannot delete {name}: {exc!r}") from exc

    async def publish(
        self,
        routing_key: str,
        message: Message,
        *,
        expiration_ms: int | None = None,
        timeout: float = 10.0,
        stop: asyncio.Event | None = None,
        mandatory: bool = True,
    ) -> None:
        """Publish once and wait for the confirm; raise PublishError if it is not confirmed.

        mandatory=False: an unroutable message is confirmed and dropped instead of an error.
        """
        channel = await self._ensure_channel(stop)
        try:
            await publish_confirmed(
                channel,
                routing_key,
                message,
                expiration_ms=expiration_ms,
                timeout=timeout,
                mandatory=mandatory,
            )
        except aiormq.exceptions.DeliveryError as exc:
            # Nacked or returned: the broker refused this message, and the channel is fine.
            # Dropping it would fail every other publish awaiting its confirm on it.
            raise PublishError(f"broker refused message for {routing_key}: {exc!r}") from exc
        except BROKER_ERRORS as exc:
            # The channel may be half-dead; drop it so the next call starts afresh.
            await self._reset(channel)
            raise PublishError(f"publish to {routing_key} failed: {exc!r}") from exc
        except (Exception, asyncio.CancelledError) as exc:
            # When a channel closes (a concurrent publish reset it, the connection was lost),
            # aiormq fails the confirms still awaited on it with a bare Exception or a
            # CancelledError. That is an unconfirmed publish like any other; only a
            # cancellation of this task itself propagates.
            task = asyncio.current_task()
            cancelled = task is not None and task.cancelling() > 0
            if cancelled or not channel.is_closed:
                raise
            raise PublishError(f"publish to {routing_key} failed: channel closed") from exc

    async def publish_until_confirmed(
        self, routing_key: str, message: Message, stop: asyncio.Event | None = None
    ) -> bool:
        """Retry publish with backoff until confirmed; False if stop was set first.

        A retry after a lost confirm can publish the message twice; consumers deduplicate by
        the message's idempotency key, so that is safe.
        """
        backoff = Backoff(maximum=self._max_delay)
        while stop is None or not stop.is_set():
            try:
                await self.publish(routing_key, message, stop=stop)
            except PublishError as exc:
                self._log.warning(
                    "publish failed, retrying", routing_key=routing_key, error=str(exc)
                )
                if not await backoff.wait(stop):
                    return False
                continue
            return True
        return False

    async def _reset(self, channel: AbstractChannel | None = None) -> None:
        """Close the connection; with `channel`, only if that channel is still the current
        one (a failure on a channel already replaced must not close its successor)."""
        async with self._lock:
            if channel is None or channel is self._channel:
                await self._close_connection()

    async def _close_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        if connection is not None and not connection.is_closed:
            # Already broken: there is nothing left to release.
            with contextlib.suppress(*BROKER_ERRORS):
                await connection.close()

    async def close(self) -> None:
        await self._reset()
