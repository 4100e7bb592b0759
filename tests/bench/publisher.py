"""A confirmed publisher of pre-built message bodies, at full speed or paced to a rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import aiormq
from iot_messaging import declare_topology
from iot_messaging.publisher import CONTENT_TYPE, PERSISTENT
from iot_routing import EXCHANGE, MEASUREMENTS_DB_WRITER

from tests.bench.dataset import Message
from tests.bench.results import BenchError

_PROPERTIES = aiormq.spec.Basic.Properties(
    delivery_mode=PERSISTENT,
    content_type=CONTENT_TYPE,
    message_type="iot.v1.MeasurementBatch",
)


class BenchPublisher:
    """One connection and a confirm-mode channel to the bench vhost, topology declared."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Any = None
        self._channel: Any = None

    async def __aenter__(self) -> BenchPublisher:
        self._connection = await aiormq.connect(self._url)
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        await declare_topology(self._channel, MEASUREMENTS_DB_WRITER)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._connection.close()

    @property
    def broker_version(self) -> str:
        version = self._connection.server_properties.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)

    async def consumers(self) -> int:
        """Consumers on the ingesters' queue now."""
        declared = await self._channel.queue_declare(MEASUREMENTS_DB_WRITER.name, passive=True)
        return int(declared.consumer_count or 0)

    async def publish(self, message: Message) -> None:
        """Publish persistently with the mandatory flag; return once the broker confirmed."""
        confirmation = await self._channel.basic_publish(
            message.body,
            exchange=EXCHANGE.name,
            routing_key=message.routing_key,
            properties=_PROPERTIES,
            mandatory=True,
        )
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise BenchError(f"broker did not confirm a message: {confirmation!r}")

    async def publish_all(self, messages: Sequence[Message], window: int) -> None:
        """Publish everything as fast as confirms allow, `window` messages in flight."""
        slots = asyncio.Semaphore(window)

        async def one(message: Message) -> None:
            try:
                await self.publish(message)
            finally:
                slots.release()

        tasks = []
        for message in messages:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(message)))
        await asyncio.gather(*tasks)

    async def publish_paced(
        self,
        messages: Sequence[Message],
        per_second: float,
        on_publish: Callable[[Message, float, float], None],
    ) -> None:
        """Publish message i at start + i / per_second without waiting for earlier confirms;
        on_publish(message, published_at, late_by) is told each publish time (monotonic)."""
        started = time.monotonic()
        tasks = []
        for i, message in enumerate(messages):
            due = started + i / per_second
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            on_publish(message, now, max(0.0, now - due))
            tasks.append(asyncio.create_task(self.publish(message)))
        await asyncio.gather(*tasks)
