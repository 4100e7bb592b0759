"""Wiring shared by the services that move one queue into PostgreSQL, top-down:
settings -> logging -> metrics and health server -> database pool -> consumer -> signals."""

from __future__ import annotations

import asyncio
import contextlib
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
from iot_storage.pool import create_pool

from iot_messaging.consumer import BatchConsumer, ConsumerMetrics, Decoder, Handler

T = TypeVar("T")
DATABASE_PROBE_SECONDS = 5.0

# Builds the batch handler once the pool exists: (pool, metrics, log) -> handler.
HandlerFactory = Callable[[Any, ServiceMetrics, Any], Handler[T]]
# Extra long-running duties of a service (for example periodic maintenance): (pool, log, stop).
Duty = Callable[[Any, Any, asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ConsumerApp(Generic[T]):
    """Everything that differs between the queue-to-database services."""

    name: str
    settings: DatabaseSettings
    queue: QueueSpec
    decode: Decoder[T]
    build_handler: HandlerFactory[T]
    prefetch: int = 512
    max_batch_weight: int = 50_000
    max_batch_delay: float = 0.05
    duties: Sequence[Duty] = field(default=())


async def _watch_database(pool: Any, health: Health, stop: asyncio.Event) -> None:
    """Keep the 'database' readiness condition true to life even when no messages flow."""
    while not stop.is_set():
        try:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
            health.set("database", True)
        except Exception as exc:  # any failure to reach the database means not ready
            health.set("database", not is_transient(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), DATABASE_PROBE_SECONDS)


def run_consumer_app(app: ConsumerApp[T]) -> None:
    """Run the service until SIGTERM; pending batches are flushed or handed back first."""
    settings = app.settings
    log = configure_logging(app.name, settings.log_level, settings.log_format)
    metrics = ServiceMetrics(app.name)
    health = Health("amqp", "database")
    server = HealthServer(health, metrics.registry, settings.http_host, settings.http_port)
    server.start()
    log.info("service starting", http_port=server.port, queue=app.queue.name)

    async def main(stop: asyncio.Event) -> None:
        pool = await create_pool(settings.database_url, app.name, settings.database_pool_size)
        consumer = BatchConsumer(
            url=settings.amqp_url,
            queue=app.queue,
            decode=app.decode,
            handle=app.build_handler(pool, metrics, log),
            is_transient=is_transient,
            log=log,
            metrics=ConsumerMetrics(metrics),
            health=health,
            prefetch=app.prefetch,
            max_batch_weight=app.max_batch_weight,
            max_batch_delay=app.max_batch_delay,
            max_backoff=settings.reconnect_max_seconds,
        )
        helpers = [asyncio.create_task(_watch_database(pool, health, stop))]
        helpers += [asyncio.create_task(duty(pool, log, stop)) for duty in app.duties]
        try:
            await consumer.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*helpers, return_exceptions=True)
            await pool.close()
            server.stop()
            log.info("service stopped")

    run_service(main, health)
