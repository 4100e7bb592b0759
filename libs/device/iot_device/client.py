"""The device client: log in as the device, consume its queue, answer, reconnect.

One connection per session, two channels on it: the inbox channel consumes the device's queue
(prefetch 1, manual acks) and the answers channel publishes with publisher confirms. A message
is acked only after its answers were confirmed, on the same connection, so a connection that
dies in between takes the message's delivery with it and the broker redelivers it.

The device has no configure permission anywhere: it declares nothing. It checks that its queue
exists with a passive declare, which needs no permission, and never declares exchanges.

Between sessions it waits with jittered exponential backoff. Two situations an operator fixes,
not the network, are retried at the slowest pace and logged as errors: the broker refusing the
login (credential revoked, rotated or wrong) and a missing queue (the device was revoked, or it
is not provisioned yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from google.protobuf.message import Message
from iot_messaging import BROKER_ERRORS, Backoff, PublishError, publish_confirmed
from iot_messaging.connection import redact
from iot_routing import device_queue_name, validate_device_id

from iot_device.broker import DEFAULT_BROKER, login_url
from iot_device.inbox import DEFAULT_JOIN_TIMEOUT_SECONDS, Inbox, Settlement
from iot_device.joining import Joiner
from iot_device.memory import DEFAULT_CAPACITY
from iot_device.stats import DeviceStats

DEFAULT_MAX_DELAY_SECONDS = 10.0
# After SIGTERM, the message in hand gets this long to be answered before the connection is
# closed under it (it is then redelivered at the next start).
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 10.0
# A login that takes longer is abandoned and retried (the broker is overloaded or unreachable).
CONNECT_TIMEOUT_SECONDS = 30.0


class _Ended(enum.Enum):
    """Why a session ended, which decides how long to wait before the next one."""

    STOPPED = "stopped"
    UNREACHABLE = "unreachable"  # no connection: retry soon, backing off
    REFUSED = "refused"  # login or queue read refused: an operator must act, retry slowly
    QUEUE_MISSING = "queue missing"  # not provisioned or revoked: retry slowly
    LOST = "lost"  # consumed, then lost the connection or the consumer: retry soon
    FAILED = "failed"  # an answer was not confirmed, or a channel failed: retry, backing off

    @property
    def slow(self) -> bool:
        return self in (_Ended.REFUSED, _Ended.QUEUE_MISSING)


@dataclass
class _Session:
    """One connection's channels, and the signal that the session must end."""

    answers: AbstractChannel
    end: asyncio.Event = field(default_factory=asyncio.Event)
    answer_failed: bool = False
    consumer_cancelled: bool = False


class DeviceClient:
    """Runs one device against RabbitMQ until stopped."""

    def __init__(
        self,
        device_id: str,
        secret: str,
        joiner: Joiner,
        log: Any,
        *,
        broker: str = DEFAULT_BROKER,
        max_delay: float = DEFAULT_MAX_DELAY_SECONDS,
        join_timeout: float = DEFAULT_JOIN_TIMEOUT_SECONDS,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
        memory_capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """`broker` is the broker's address without credentials (see iot_device.broker)."""
        self.device_id = validate_device_id(device_id)
        self._url = login_url(broker, device_id, secret)
        self._log = log.bind(device=device_id)
        self._queue = device_queue_name(device_id)
        self._max_delay = max_delay
        self._shutdown_timeout = shutdown_timeout
        self.stats = DeviceStats()
        self.inbox = Inbox(
            device_id,
            joiner,
            self._log,
            self.stats,
            clock=clock,
            join_timeout=join_timeout,
            memory_capacity=memory_capacity,
        )
        # Set while the queue is being consumed (tests and readiness wait on it).
        self.consuming = asyncio.Event()
        self._in_hand: set[asyncio.Task[Any]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until stop is set; finish the message in hand, then return."""
        backoff = Backoff(maximum=self._max_delay)
        # Full jitter around the longest delay: many devices revoked together must not come
        # back in lockstep either.
        slowly = Backoff(base=self._max_delay, maximum=self._max_delay)
        while not stop.is_set():
            ended = await self._session(stop)
            if ended is _Ended.STOPPED:
                break
            if ended is _Ended.LOST:
                backoff.reset()  # the session worked: start the backoff over
            if not await (slowly if ended.slow else backoff).wait(stop):
                break
        self._log.info("device client stopped")

    async def _session(self, stop: asyncio.Event) -> _Ended:
        connection = await self._login(stop)
        if isinstance(connection, _Ended):
            return connection
        try:
            return await self._consume(connection, stop)
        except aiormq.exceptions.ChannelNotFoundEntity:
            self.stats.queue_missing += 1
            self._log.error(
                "the device's queue does not exist: not provisioned yet, or revoked;"
                " retrying slowly",
                queue=self._queue,
                missing=self.stats.queue_missing,
            )
            return _Ended.QUEUE_MISSING
        except aiormq.exceptions.ChannelAccessRefused as exc:
            self.stats.access_refused += 1
            self._log.error("broker refused the device its queue; retrying slowly", error=str(exc))
            return _Ended.REFUSED
        except BROKER_ERRORS as exc:
            self._log.warning("amqp channel failed", error=repr(exc))
            return _Ended.UNREACHABLE
        finally:
            self.consuming.clear()
            if not connection.is_closed:
                with contextlib.suppress(*BROKER_ERRORS):
                    await connection.close()

    async def _login(self, stop: asyncio.Event) -> AbstractConnection | _Ended:
        """An open connection, or why there is none."""
        try:
            connection = await self._connect(stop)
        except aiormq.exceptions.ProbableAuthenticationError as exc:
            self.stats.access_refused += 1
            self._log.error(
                "broker refused the device's login: credential revoked, rotated or wrong;"
                " retrying slowly",
                error=str(exc),
                refused=self.stats.access_refused,
            )
            return _Ended.REFUSED
        except BROKER_ERRORS as exc:
            self._log.warning(
                "cannot connect to the broker", url=redact(self._url), error=repr(exc)
            )
            return _Ended.UNREACHABLE
        return _Ended.STOPPED if connection is None else connection

    async def _connect(self, stop: asyncio.Event) -> AbstractConnection | None:
        """Log in, or None if stop comes first: a broker that drops packets can hold a TCP
        connect for minutes, and SIGTERM must not wait for that."""
        connecting = asyncio.ensure_future(
            asyncio.wait_for(aiormq.connect(self._url), CONNECT_TIMEOUT_SECONDS)
        )
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({connecting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if connecting.done():
            return connecting.result()  # or the connect error
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, *BROKER_ERRORS):
            await connecting
        return None

    async def _consume(self, connection: AbstractConnection, stop: asyncio.Event) -> _Ended:
        inbox = await connection.channel(publisher_confirms=False)
        await inbox.queue_declare(self._queue, passive=True)
        session = _Session(await connection.channel(publisher_confirms=True, on_return_raises=True))
        await inbox.basic_qos(prefetch_count=1)

        def cancelled(_: object) -> None:
            session.consumer_cancelled = True
            session.end.set()

        inbox.on_consumer_cancel_callbacks.add(cancelled)
        consumer_tag = f"{self.device_id}.{uuid.uuid4().hex[:12]}"

        async def on_message(message: DeliveredMessage) -> None:
            await self._on_message(session, message)

        await inbox.basic_consume(self._queue, on_message, consumer_tag=consumer_tag)
        self.stats.connections += 1
        self.consuming.set()
        self._log.info("consuming", queue=self._queue)
        # Either channel can close alone (a refused publish closes the answers channel).
        closings = {connection.closing, inbox.closing, session.answers.closing}
        stopped = asyncio.ensure_future(stop.wait())
        ended = asyncio.ensure_future(session.end.wait())
        try:
            await asyncio.wait({*closings, stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()  # only our own waits: the closing futures belong to aiormq
            ended.cancel()
        if stop.is_set():
            if not connection.is_closed:
                with contextlib.suppress(*BROKER_ERRORS):
                    await inbox.basic_cancel(consumer_tag)  # take nothing new
                await self._finish_in_hand()
            return _Ended.STOPPED
        if session.consumer_cancelled:
            self._log.warning("the broker cancelled the consumer (queue deleted?); reconnecting")
            return _Ended.LOST
        if connection.is_closed:
            self._log.warning("amqp connection lost; reconnecting (unacked messages come back)")
            return _Ended.LOST
        if not session.answer_failed:
            self._log.warning("an amqp channel closed; reconnecting")
        # A channel closed alone, or an answer was not confirmed: a refusal or a broker problem
        # that may well repeat, so the backoff is not reset.
        return _Ended.FAILED

    async def _on_message(self, session: _Session, message: DeliveredMessage) -> None:
        tag = message.delivery_tag
        if tag is None:  # only basic.get results lack a tag; we never use basic.get
            return
        task = asyncio.current_task()
        assert task is not None  # aiormq runs each delivery in a task of its own
        self._in_hand.add(task)
        try:

            async def answer(routing_key: str, answer_message: Message) -> None:
                await publish_confirmed(
                    session.answers, routing_key, answer_message, user_id=self.device_id
                )

            try:
                settlement = await self.inbox.handle(
                    message.routing_key or "", message.body, answer
                )
            except (PublishError, *BROKER_ERRORS) as exc:
                self._abandon(session, message, "answer not confirmed", exc)
                return
            except Exception as exc:  # a bug: do not leave the message in hand forever
                self._log.exception("message handling failed", routing_key=message.routing_key)
                self._abandon(session, message, "message handling failed", exc)
                return
            with contextlib.suppress(*BROKER_ERRORS):  # lost: redelivered, answered alike
                if settlement is Settlement.ACK:
                    await message.channel.basic_ack(tag)
                else:
                    await message.channel.basic_reject(tag, requeue=False)
        finally:
            self._in_hand.discard(task)

    def _abandon(
        self, session: _Session, message: DeliveredMessage, what: str, exc: BaseException
    ) -> None:
        """Leave the message unacked and end the session: closing the connection hands it back
        to the broker, which redelivers it to the next session (after a backoff)."""
        self.stats.answers_failed += 1
        self._log.warning(
            "message left unacked for redelivery",
            why=what,
            routing_key=message.routing_key,
            error=repr(exc),
        )
        session.answer_failed = True
        session.end.set()

    async def _finish_in_hand(self) -> None:
        """Wait (bounded) for the message being handled; it is redelivered if it does not end."""
        in_hand = set(self._in_hand)
        if not in_hand:
            return
        _, pending = await asyncio.wait(in_hand, timeout=self._shutdown_timeout)
        if pending:
            self._log.warning(
                "message still in hand at shutdown; it will be redelivered",
                timeout=self._shutdown_timeout,
            )
