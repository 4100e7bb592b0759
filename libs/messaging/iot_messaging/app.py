"""Wiring shared by the services that move queues into PostgreSQL, top-down:
settings -> logging -> metrics and health server -> database pool -> consumers -> signals.

A service consumes one queue or several (the sensor-registry takes registrations, command
acknowledgements and heartbeats). The consumers of one process share its database pool, health
server, metrics registry and duties; each has its own AMQP connection, prefetch window and
batching, so a backlog or a poison message on one queue never holds up another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from iot_routing import QueueSpec
from iot_service import (
    DatabaseSettings,
    Health,
    HealthServer,
    ServiceMetrics,
    configure_logging,
    run_service,
)
from iot_storage.errors import is_transient
from iot_storage.pool import create_pool, watch_database

from iot_messaging.consumer import BatchConsumer, ConsumerMetrics, Decoder, Handler

T = TypeVar("T")
# The readiness condition of a single-queue service's broker connection.
AMQP = "amqp"

# Builds the batch handler once the pool exists: (pool, metrics, log) -> handler.
HandlerFactory = Callable[[Any, ServiceMetrics, Any], Handler[T]]
# Extra long-running duties of a service (for example periodic maintenance): (pool, log, stop).
Duty = Callable[[Any, Any, asyncio.Event], Coroutine[Any, Any, None]]
# Builds a duty that exports metrics of its own, once the service's metrics exist.
DutyFactory = Callable[[ServiceMetrics], Duty]


@dataclass(frozen=True)
class QueueConsumer(Generic[T]):
    """One queue of a service: how its messages are decoded, batched and written."""

    queue: QueueSpec
    decode: Decoder[T]
    build_handler: HandlerFactory[T]
    prefetch: int = 512
    max_batch_weight: int = 50_000
    max_batch_delay: float = 0.05


@dataclass(frozen=True, kw_only=True)
class ConsumerApp(Generic[T]):
    """Everything that differs between the queue-to-database services.

    A single-queue service gives `queue`, `decode`, `build_handler` and its batch limits
    directly; a service consuming several queues lists them in `consumers` instead.
    """

    name: str
    settings: DatabaseSettings
    queue: QueueSpec | None = None
    decode: Decoder[T] | None = None
    build_handler: HandlerFactory[T] | None = None
    prefetch: int = 512
    max_batch_weight: int = 50_000
    max_batch_delay: float = 0.05
    consumers: Sequence[QueueConsumer[Any]] = ()
    duties: Sequence[Duty] = field(default=())
    duty_factories: Sequence[DutyFactory] = field(default=())

    def __post_init__(self) -> None:
        single = (self.queue, self.decode, self.build_handler)
        if self.consumers and any(part is not None for part in single):
            raise ValueError("give either queue/decode/build_handler or consumers, not both")
        if not self.consumers and any(part is None for part in single):
            raise ValueError("a consumer app needs queue, decode and build_handler, or consumers")
        names = [consumer.queue.name for consumer in self.all_consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"a queue is consumed twice: {names}")

    @property
    def all_consumers(self) -> tuple[QueueConsumer[Any], ...]:
        """The queues this process consumes, one QueueConsumer each."""
        if self.consumers:
            return tuple(self.consumers)
        # __post_init__ guarantees the single-queue fields are set here.
        assert self.queue is not None and self.decode is not None
        assert self.build_handler is not None
        return (
            QueueConsumer(
                self.queue,
                self.decode,
                self.build_handler,
                self.prefetch,
                self.max_batch_weight,
                self.max_batch_delay,
            ),
        )


def amqp_conditions(consumers: Sequence[QueueConsumer[Any]]) -> list[str]:
    """Readiness condition per consumer: `amqp` alone, `amqp:<queue>` for each of several.

    A single-queue service keeps the condition it always reported; with several, /readyz
    names the queue whose connection is down.
    """
    if len(consumers) == 1:
        return [AMQP]
    return [f"{AMQP}:{consumer.queue.name}" for consumer in consumers]


def run_consumer_app(app: ConsumerApp[Any]) -> None:
    """Run the service until SIGTERM; pending batches are flushed or handed back first."""
    settings = app.settings
    specs = app.all_consumers
    conditions = amqp_conditions(specs)
    log = configure_logging(app.name, settings.log_level, settings.log_format)
    metrics = ServiceMetrics(app.name)
    consumer_metrics = ConsumerMetrics(metrics)
    health = Health(*conditions, "database")
    server = HealthServer(health, metrics.registry, settings.http_host, settings.http_port)
    server.start()
    log.info("service starting", http_port=server.port, queues=[spec.queue.name for spec in specs])

    async def main(stop: asyncio.Event) -> None:
        pool = await create_pool(settings.database_url, app.name, settings.database_pool_size)
        consumers = [
            BatchConsumer(
                url=settings.amqp_url,
                queue=spec.queue,
                decode=spec.decode,
                handle=spec.build_handler(pool, metrics, log),
                is_transient=is_transient,
                log=log,
                metrics=consumer_metrics.for_queue(spec.queue.name),
                health=health,
                amqp_condition=condition,
                prefetch=spec.prefetch,
                max_batch_weight=spec.max_batch_weight,
                max_batch_delay=spec.max_batch_delay,
                max_backoff=settings.reconnect_max_seconds,
            )
            for spec, condition in zip(specs, conditions, strict=True)
        ]
        helpers = [asyncio.create_task(watch_database(pool, health, stop))]
        duties = [*app.duties, *(build(metrics) for build in app.duty_factories)]
        helpers += [asyncio.create_task(duty(pool, log, stop)) for duty in duties]
        running = [
            asyncio.create_task(consumer.run(stop), name=f"consume {spec.queue.name}")
            for consumer, spec in zip(consumers, specs, strict=True)
        ]
        try:
            await asyncio.gather(*running)
        finally:
            # If one consumer failed, the others stop too: flush what they hold, then exit,
            # and let the supervisor restart the whole process.
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            await asyncio.gather(*helpers, return_exceptions=True)
            await pool.close()
            server.stop()
            log.info("service stopped")

    run_service(main, health)
