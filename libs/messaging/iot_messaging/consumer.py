"""A consumer that gathers messages into batches and acknowledges them only after the batch
handler has made their effect durable.

Rules that keep data safe:
- An undecodable or invalid message is rejected without requeue: RabbitMQ moves it to the
  queue's dead-letter queue, and everything else goes on.
- When the handler fails for a transient reason (database down), the batch is kept and retried
  with backoff; nothing is nacked, so delivery counts do not grow and nothing is dead-lettered.
  Unacknowledged messages also hold the prefetch window shut, which stops consumption.
- When the handler fails for a permanent reason, the batch is split and each message is retried
  alone, so one bad message is dead-lettered and the others are stored.
- If the connection drops, pending deliveries are forgotten: RabbitMQ redelivers them, and the
  handler's idempotency keys make the redelivery harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from iot_routing import QueueSpec
from iot_service import Health, ServiceMetrics
from iot_service.metrics import SIZE_BUCKETS
from prometheus_client import Counter

from iot_messaging.backoff import Backoff
from iot_messaging.connection import BROKER_ERRORS, connect_with_retry
from iot_messaging.topology import declare_topology

T = TypeVar("T")


class InvalidMessageError(ValueError):
    """A message that can never be processed; it is dead-lettered with this reason."""


@dataclass(frozen=True)
class Delivery(Generic[T]):
    """A decoded message and what is needed to settle it."""

    item: T
    weight: int
    channel: AbstractChannel
    delivery_tag: int
    routing_key: str


class ConsumerMetrics:
    """The metric set every consuming service exports under the same names.

    Every series carries a `queue` label (besides the `service` label every metric has), so the
    consumers of one process (the sensor-registry consumes three queues) share one set of
    metric names without colliding. Create it once per process and hand each consumer its
    `for_queue` view: a registry refuses the same name twice.
    """

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.received = metrics.counter(
            "messages_received", "Messages delivered by RabbitMQ", ["queue"]
        )
        self.processed = metrics.counter(
            "messages_processed",
            "Messages whose effect was committed and that were acked",
            ["queue"],
        )
        self.failed = metrics.counter(
            "batches_failed", "Batch writes that failed and were retried", ["queue", "reason"]
        )
        self.dead_lettered = metrics.counter(
            "messages_dead_lettered",
            "Messages rejected to the dead-letter queue",
            ["queue", "reason"],
        )
        self.batch_size = metrics.histogram(
            "batch_size",
            "Weight (samples, rows) of each written batch",
            buckets=SIZE_BUCKETS,
            labels=["queue"],
        )
        self.batch_messages = metrics.histogram(
            "batch_messages",
            "Messages in each written batch",
            buckets=SIZE_BUCKETS,
            labels=["queue"],
        )
        self.write_seconds = metrics.histogram(
            "batch_write_seconds",
            "Time to make one batch durable, retries included",
            labels=["queue"],
        )

    def for_queue(self, queue: str) -> QueueMetrics:
        """The series of one queue's consumer."""
        return QueueMetrics(self, queue)


class QueueMetrics:
    """ConsumerMetrics bound to one queue; what a BatchConsumer records into."""

    def __init__(self, family: ConsumerMetrics, queue: str) -> None:
        self._family = family
        self._queue = queue
        # Created up front so every series is exported (as 0) before the first message.
        self.received = family.received.labels(queue=queue)
        self.processed = family.processed.labels(queue=queue)
        self.batch_size = family.batch_size.labels(queue=queue)
        self.batch_messages = family.batch_messages.labels(queue=queue)
        self.write_seconds = family.write_seconds.labels(queue=queue)

    def failed(self, reason: str) -> Counter:
        """The retried-batch counter for one failure reason."""
        return self._family.failed.labels(queue=self._queue, reason=reason)

    def dead_lettered(self, reason: str) -> Counter:
        """The dead-lettered-message counter for one reason."""
        return self._family.dead_lettered.labels(queue=self._queue, reason=reason)


class EndToEndLag:
    """Seconds from the time a sensor stamped a message to its commit, for one queue.

    Named alike in every ingester, so one dashboard panel shows the lag of every pipeline.
    One per process: it creates the metric, which a registry accepts once.
    """

    def __init__(self, metrics: ServiceMetrics, queue: QueueSpec) -> None:
        family = metrics.histogram(
            "end_to_end_lag_seconds",
            "From the time a sensor stamped a message to its commit",
            labels=["queue"],
        )
        self._histogram = family.labels(queue=queue.name)

    def observe(self, stamped_us: Iterable[int]) -> None:
        """Record the lag of messages just committed, from their source times (µs since epoch)."""
        now_us = time.time_ns() // 1000
        for stamp in stamped_us:
            self._histogram.observe(max(0.0, (now_us - stamp) / 1e6))


Decoder = Callable[[DeliveredMessage], tuple[T, int]]
Handler = Callable[[Sequence[T]], Awaitable[None]]


class BatchConsumer(Generic[T]):
    """Consume one queue, batching by weight or delay, acking after `handle` returns."""

    def __init__(
        self,
        *,
        url: str,
        queue: QueueSpec,
        decode: Decoder[T],
        handle: Handler[T],
        is_transient: Callable[[BaseException], bool],
        log: Any,
        metrics: QueueMetrics,
        health: Health,
        amqp_condition: str = "amqp",
        prefetch: int = 512,
        max_batch_weight: int = 50_000,
        max_batch_delay: float = 0.05,
        max_backoff: float = 10.0,
        shutdown_timeout: float = 20.0,
    ) -> None:
        self._url = url
        self._queue = queue
        self._decode = decode
        self._handle = handle
        self._is_transient = is_transient
        self._log = log.bind(queue=queue.name)
        self._metrics = metrics
        self._health = health
        # The readiness condition this consumer's connection answers for; a process with
        # several consumers gives each its own, so /readyz names the queue that is down.
        self._amqp_condition = amqp_condition
        self._prefetch = prefetch
        self._max_weight = max_batch_weight
        self._max_messages = max(1, prefetch // 2)
        self._max_delay = max_batch_delay
        self._max_backoff = max_backoff
        self._shutdown_timeout = shutdown_timeout
        self._pending: list[Delivery[T]] = []
        self._pending_weight = 0
        self._first_pending_at = 0.0
        self._writing = False
        self._wake = asyncio.Event()
        self._full = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until stop is set; then flush what is pending and return."""
        flusher = asyncio.create_task(self._flush_forever(stop), name="flusher")
        try:
            while not stop.is_set():
                connection = await connect_with_retry(self._url, self._log, stop, self._max_backoff)
                if connection is None:
                    break
                await self._consume(connection, stop)
        finally:
            self._wake.set()
            self._full.set()
            await flusher

    async def _consume(self, connection: AbstractConnection, stop: asyncio.Event) -> None:
        try:
            channel = await connection.channel(publisher_confirms=False)
            await declare_topology(channel, self._queue)
            await channel.basic_qos(prefetch_count=self._prefetch)
            consumer_tag = f"{self._queue.name}.{uuid.uuid4().hex[:12]}"
            await channel.basic_consume(
                self._queue.name, self._on_message, consumer_tag=consumer_tag
            )
            self._health.set(self._amqp_condition, True)
            self._log.info("consuming", prefetch=self._prefetch)
            closed = asyncio.ensure_future(connection.closing)
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if stop.is_set() and not connection.is_closed:
                # Take no new deliveries; the flusher settles what is pending, then we close.
                await channel.basic_cancel(consumer_tag)
                await self._drain(timeout=self._shutdown_timeout)
                await connection.close()
            else:
                self._log.warning("amqp connection lost, pending deliveries will be redelivered")
        except BROKER_ERRORS as exc:
            self._log.warning("amqp channel failed", error=repr(exc))
        finally:
            self._health.set(self._amqp_condition, False)
            # Deliveries of a dead channel cannot be acked; RabbitMQ has already requeued them.
            self._pending = [d for d in self._pending if not d.channel.is_closed]
            self._pending_weight = sum(d.weight for d in self._pending)

    async def _drain(self, timeout: float) -> None:
        """Wait (bounded) until nothing is pending and no write is in flight."""
        deadline = time.monotonic() + timeout
        while (self._pending or self._writing) and time.monotonic() < deadline:
            self._full.set()
            self._wake.set()
            await asyncio.sleep(0.01)

    async def _on_message(self, message: DeliveredMessage) -> None:
        self._metrics.received.inc()
        tag = message.delivery_tag
        if tag is None:  # only basic.get results lack a tag; we never use basic.get
            return
        try:
            item, weight = self._decode(message)
        except InvalidMessageError as exc:
            await self._dead_letter(message.channel, tag, message.routing_key or "", str(exc))
            return
        if not self._pending:
            self._first_pending_at = time.monotonic()
            self._wake.set()
        self._pending.append(
            Delivery(item, weight, message.channel, tag, message.routing_key or "")
        )
        self._pending_weight += weight
        if self._pending_weight >= self._max_weight or len(self._pending) >= self._max_messages:
            self._full.set()

    async def _dead_letter(
        self, channel: AbstractChannel, tag: int, routing_key: str, reason: str
    ) -> None:
        self._log.warning("message dead-lettered", routing_key=routing_key, reason=reason)
        self._metrics.dead_lettered(reason.split(":", 1)[0][:60]).inc()
        # If the channel is gone the broker requeued it; it will come back and fail again.
        with contextlib.suppress(*BROKER_ERRORS):
            await channel.basic_nack(tag, requeue=False)

    async def _flush_forever(self, stop: asyncio.Event) -> None:
        while True:
            if not self._pending:
                if stop.is_set():
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            remaining = self._first_pending_at + self._max_delay - time.monotonic()
            if remaining > 0 and not self._full.is_set() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            batch = self._take_batch()
            self._writing = True
            try:
                await self._write(batch, stop)
            finally:
                self._writing = False

    def _take_batch(self) -> list[Delivery[T]]:
        """Take pending deliveries up to the batch limits (at least one), oldest first.

        After a stall (a slow write, a database outage) many messages can be pending; writing
        them all in one transaction would make every one of them wait for the largest possible
        write, so a flush never exceeds the limits it would have been triggered by.
        """
        weight, count = 0, 0
        for delivery in self._pending:
            if count and (
                weight + delivery.weight > self._max_weight or count >= self._max_messages
            ):
                break
            weight += delivery.weight
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        self._pending_weight -= weight
        # What is left waited already: _first_pending_at stays as it was, so it goes next.
        if self._pending_weight < self._max_weight and len(self._pending) < self._max_messages:
            self._full.clear()
        return batch

    async def _write(self, batch: list[Delivery[T]], stop: asyncio.Event) -> None:
        started = time.monotonic()
        try:
            await self._handle_with_retry(batch, stop)
        except _PermanentBatchError as exc:
            if len(batch) == 1:
                await self._dead_letter(
                    batch[0].channel, batch[0].delivery_tag, batch[0].routing_key, exc.reason
                )
                return
            self._log.warning(
                "batch failed permanently, retrying its messages one by one",
                messages=len(batch),
                reason=exc.reason,
            )
            for delivery in batch:
                await self._write([delivery], stop)
            return
        except _AbandonedError:
            return
        self._metrics.write_seconds.observe(time.monotonic() - started)
        self._metrics.batch_size.observe(sum(d.weight for d in batch))
        self._metrics.batch_messages.observe(len(batch))
        await self._ack(batch)

    async def _handle_with_retry(self, batch: list[Delivery[T]], stop: asyncio.Event) -> None:
        backoff = Backoff(maximum=self._max_backoff)
        give_up_at: float | None = None
        while True:
            try:
                await self._handle([d.item for d in batch])
            except Exception as exc:  # classified just below
                if not self._is_transient(exc):
                    raise _PermanentBatchError(f"{type(exc).__name__}: {exc}") from exc
                self._health.set("database", False)
                self._metrics.failed(type(exc).__name__).inc()
                self._log.warning(
                    "batch write failed, will retry",
                    error=repr(exc),
                    messages=len(batch),
                    attempt=backoff.attempt + 1,
                )
                if all(d.channel.is_closed for d in batch):
                    raise _AbandonedError from exc  # redelivered elsewhere; retrying is wasted work
                if stop.is_set():
                    give_up_at = give_up_at or time.monotonic() + self._shutdown_timeout
                    if time.monotonic() > give_up_at:
                        self._log.error(
                            "giving up at shutdown; RabbitMQ will redeliver", messages=len(batch)
                        )
                        raise _AbandonedError from exc
                await asyncio.sleep(backoff.next_delay())
                continue
            self._health.set("database", True)
            return

    async def _ack(self, batch: list[Delivery[T]]) -> None:
        acked = 0
        for delivery in batch:
            try:
                await delivery.channel.basic_ack(delivery.delivery_tag)
                acked += 1
            except BROKER_ERRORS:
                # Committed but not acked: the redelivery will be recognised as a duplicate.
                self._log.warning("ack failed after commit", routing_key=delivery.routing_key)
        self._metrics.processed.inc(acked)
        self._log.debug("batch stored", messages=len(batch), acked=acked)


class _PermanentBatchError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _AbandonedError(Exception):
    """The batch was given up; its messages stay unacked and will be redelivered."""
