"""What the device does with each message of its queue, independent of the connection.

A JOIN is answered RECEIVED, then JOINED or FAILED; a ping is answered with a pong. `handle`
returns only after every answer was confirmed by the broker (the `answer` callable raises
otherwise), and says whether the message is to be acked or rejected: the client acks it only
then, so a crash or a lost answer leaves it in the queue to be handled again. Handling it again
is harmless: a request already joined is answered JOINED without calling the joiner again.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from iot.v1.join_pb2 import JoinStatus, SessionJoin
from iot_routing import join_acks_key, message_kind, pongs_key

from iot_device.joining import Joiner, JoinResult
from iot_device.memory import DEFAULT_CAPACITY, BoundedMemory
from iot_device.messages import (
    InvalidDeviceMessageError,
    decode_join,
    decode_ping,
    join_ack,
    pong,
)
from iot_device.stats import DeviceStats

RECEIVED = JoinStatus.JOIN_STATUS_RECEIVED
JOINED = JoinStatus.JOIN_STATUS_JOINED
FAILED = JoinStatus.JOIN_STATUS_FAILED
DEADLINE_PASSED = "deadline passed"
DEFAULT_JOIN_TIMEOUT_SECONDS = 30.0

# Publishes one answer (routing key, message) and returns once the broker confirmed it.
Answer = Callable[[str, Message], Awaitable[None]]


class Settlement(enum.Enum):
    """What to tell RabbitMQ about a handled message."""

    ACK = "ack"
    REJECT = "reject"  # without requeue: the device queue has no dead-letter queue, so dropped


class Inbox:
    """Handles one device's JOINs and pings, one at a time."""

    def __init__(
        self,
        device_id: str,
        joiner: Joiner,
        log: Any,
        stats: DeviceStats,
        *,
        clock: Callable[[], int] = time.time_ns,
        join_timeout: float = DEFAULT_JOIN_TIMEOUT_SECONDS,
        memory_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self._device_id = device_id
        self._joiner = joiner
        self._log = log
        self._stats = stats
        self._clock = clock
        self._join_timeout = join_timeout
        # Requests joined (request id -> session id): a repeated JOIN is answered alike.
        self._joined: BoundedMemory[str, str] = BoundedMemory(memory_capacity)
        # prefetch 1 serialises deliveries of one channel, not of successive connections: a
        # redelivery on a new connection must wait for the old handling to finish, or the
        # joiner could be called twice for one request.
        self._lock = asyncio.Lock()

    def joined(self, request_id: str) -> bool:
        """Whether this device joined the request (as far as its bounded memory goes)."""
        return request_id in self._joined

    async def handle(self, routing_key: str, body: bytes, answer: Answer) -> Settlement:
        """Act on one message and publish its answers; raise if an answer was not confirmed."""
        async with self._lock:
            kind = message_kind(routing_key)
            try:
                if kind == "join":
                    await self._on_join(decode_join(body, self._device_id), answer)
                elif kind == "ping":
                    ping = decode_ping(body)
                    await answer(
                        pongs_key(self._device_id), pong(ping, self._device_id, self._clock())
                    )
                    self._stats.pongs += 1
                    self._log.debug("ping answered", ping_id=ping.ping_id)
                else:
                    raise InvalidDeviceMessageError("not a JOIN or ping routing key")
            except InvalidDeviceMessageError as exc:
                self._stats.rejected += 1
                self._log.warning("message rejected", routing_key=routing_key, reason=str(exc))
                return Settlement.REJECT
            return Settlement.ACK

    async def _on_join(self, join: SessionJoin, answer: Answer) -> None:
        self._stats.joins_received += 1
        key = join_acks_key(self._device_id)
        await answer(key, join_ack(join, RECEIVED, self._clock()))
        repeated = join.request_id in self._joined
        if repeated:
            self._stats.joins_repeated += 1
            result = JoinResult.success()
        elif self._clock() > join.deadline.ToNanoseconds():
            # The broker drops a JOIN at its deadline, but a device clock ahead of the
            # dispatcher's, or a JOIN taken just before it expired, still gets here.
            result = JoinResult.failure(DEADLINE_PASSED)
        else:
            result = await self._join(join)
            if result.joined:
                self._joined.remember(join.request_id, join.session_id)
        status = JOINED if result.joined else FAILED
        await answer(key, join_ack(join, status, self._clock(), result.reason))
        if result.joined:
            self._stats.joined += 1
        else:
            self._stats.join_failed += 1
        (self._log.info if result.joined else self._log.warning)(
            "join answered",
            request_id=join.request_id,
            session_id=join.session_id,
            status=JoinStatus.Name(status),
            reason=result.reason or None,
            repeated=repeated,
        )

    async def _join(self, join: SessionJoin) -> JoinResult:
        try:
            return await asyncio.wait_for(self._joiner.join(join), self._join_timeout)
        except TimeoutError:
            return JoinResult.failure(f"join timed out after {self._join_timeout:g} s")
        except Exception as exc:  # a joiner's bug must not stop the device; report it failed
            self._log.exception("joiner raised", request_id=join.request_id)
            return JoinResult.failure(f"join failed: {type(exc).__name__}")
