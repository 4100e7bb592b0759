"""Wiring of the join-dispatcher process, top-down: logging -> metrics and health server ->
database pool -> publishers -> three consumers and two duties -> signals.

It mirrors iot_messaging.app.run_consumer_app (one BatchConsumer per queue, each with its own
connection, prefetch window and readiness condition; one pool, health server and metrics
registry), but this service also publishes, which that runner has no place for: the JOIN
publisher must outlive the consumers (a request being dispatched at shutdown still needs it),
and the request handler takes the stop event to end its retries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from aiormq.abc import DeliveredMessage
from iot_messaging import BatchConsumer, ConsumerMetrics, Publisher, PublishError
from iot_messaging.consumer import Decoder, Handler
from iot_routing import JOIN_ACKS, JOIN_REQUESTS, PONGS, QueueSpec
from iot_service import Health, HealthServer, ServiceMetrics, configure_logging, run_service
from iot_storage.errors import is_transient as database_is_transient
from iot_storage.pool import create_pool, watch_database

from join_dispatcher.acks import AckStore
from join_dispatcher.config import Settings
from join_dispatcher.decode import RequestRef, decode_ack, decode_pong, decode_request
from join_dispatcher.dispatch import Dispatcher, JoinsNotConfirmedError
from join_dispatcher.joins import JoinPublisher
from join_dispatcher.metrics import DispatcherMetrics
from join_dispatcher.pinger import Pinger
from join_dispatcher.pongs import PongStore
from join_dispatcher.sweep import Sweeper
from join_dispatcher.tokens import TokenMinter

SERVICE = "join-dispatcher"
# Readiness of the JOIN publisher's connection (the consumers have one condition each).
PUBLISH = "amqp:publish"
BROKER_PROBE_SECONDS = 5.0
# HS256 wants a key of at least 256 bits (RFC 7518); LiveKit's servers ask the same.
MIN_SECRET_LENGTH = 32
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Retry (keep the message) on outages of either the database or the broker."""
    return isinstance(exc, JoinsNotConfirmedError) or database_is_transient(exc)


def _device_decoder(decode: Callable[[bytes, str, str | None], T]) -> Decoder[T]:
    """A consumer decoder for devices' answers, which are checked against the sender."""

    def decode_message(message: DeliveredMessage) -> tuple[T, int]:
        user_id = message.header.properties.user_id
        return decode(message.body, message.routing_key or "", user_id), 1

    return decode_message


def _decode_request(message: DeliveredMessage) -> tuple[RequestRef, int]:
    return decode_request(message.body), 1


async def _watch_publisher(publisher: Publisher, health: Health, stop: asyncio.Event) -> None:
    """Keep the publisher's readiness condition true to life: can a channel be opened now?"""
    while not stop.is_set():
        try:
            async with asyncio.timeout(BROKER_PROBE_SECONDS):
                await publisher.ensure_channel(stop)
            health.set(PUBLISH, True)
        except (PublishError, TimeoutError):
            health.set(PUBLISH, False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BROKER_PROBE_SECONDS)


def run(settings: Settings) -> None:
    """Run the dispatcher until SIGTERM; what it holds is finished or handed back first."""
    log = configure_logging(SERVICE, settings.log_level, settings.log_format)
    metrics = ServiceMetrics(SERVICE)
    counters = DispatcherMetrics(metrics)
    consumer_metrics = ConsumerMetrics(metrics)
    queues = (JOIN_REQUESTS, JOIN_ACKS, PONGS)
    health = Health(*(f"amqp:{queue.name}" for queue in queues), "database", PUBLISH)
    server = HealthServer(health, metrics.registry, settings.http_host, settings.http_port)
    server.start()
    log.info("service starting", http_port=server.port, queues=[queue.name for queue in queues])
    if len(settings.livekit_api_secret.get_secret_value()) < MIN_SECRET_LENGTH:
        # Allowed, for LiveKit's own development mode (secret "secret"), but not for real use.
        log.warning(
            "LIVEKIT_API_SECRET is short: use at least 32 random characters outside development"
        )

    def consumer(
        queue: QueueSpec, decode: Decoder[Any], handle: Handler[Any], prefetch: int, delay: float
    ) -> BatchConsumer[Any]:
        return BatchConsumer(
            url=settings.amqp_url,
            queue=queue,
            decode=decode,
            handle=handle,
            is_transient=is_transient,
            log=log,
            metrics=consumer_metrics.for_queue(queue.name),
            health=health,
            amqp_condition=f"amqp:{queue.name}",
            prefetch=prefetch,
            max_batch_weight=prefetch,
            max_batch_delay=delay,
            max_backoff=settings.reconnect_max_seconds,
        )

    async def main(stop: asyncio.Event) -> None:
        pool = await create_pool(settings.database_url, SERVICE, settings.database_pool_size)
        # Two connections: a ping that fails (and resets its connection) never disturbs JOINs.
        joins = Publisher(settings.amqp_url, log, max_delay=settings.reconnect_max_seconds)
        pings = Publisher(settings.amqp_url, log, max_delay=settings.reconnect_max_seconds)
        tokens = TokenMinter(
            settings.livekit_api_key,
            settings.livekit_api_secret,
            timedelta(seconds=settings.join_token_grace_seconds),
        )
        dispatcher = Dispatcher(
            pool=pool,
            joins=JoinPublisher(
                joins,
                tokens,
                settings.livekit_url,
                settings.publish_concurrency,
                settings.publish_timeout_seconds,
            ),
            metrics=counters,
            log=log,
            stop=stop,
            max_backoff_seconds=settings.reconnect_max_seconds,
        )
        delay = settings.max_batch_delay_seconds
        consumers = [
            # Requests are not worth waiting for company: each is written on its own anyway.
            consumer(
                JOIN_REQUESTS,
                _decode_request,
                dispatcher,
                settings.request_prefetch,
                0.0,
            ),
            consumer(
                JOIN_ACKS,
                _device_decoder(decode_ack),
                AckStore(pool, counters, log),
                settings.prefetch,
                delay,
            ),
            consumer(
                PONGS,
                _device_decoder(decode_pong),
                PongStore(pool, counters, log),
                settings.prefetch,
                delay,
            ),
        ]
        pinger = Pinger(
            pings,
            counters,
            settings.ping_seconds,
            settings.publish_concurrency,
            settings.publish_timeout_seconds,
        )
        helpers = [
            asyncio.create_task(watch_database(pool, health, stop)),
            asyncio.create_task(_watch_publisher(joins, health, stop)),
            asyncio.create_task(
                Sweeper(counters, settings.join_sweep_seconds).run(pool, log, stop)
            ),
            asyncio.create_task(pinger.run(pool, log, stop)),
        ]
        running = [
            asyncio.create_task(c.run(stop), name=f"consume {queue.name}")
            for c, queue in zip(consumers, queues, strict=True)
        ]
        try:
            await asyncio.gather(*running)
        finally:
            # If one consumer failed, the others stop too: settle what they hold, then exit,
            # and let the supervisor restart the whole process.
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            await asyncio.gather(*helpers, return_exceptions=True)
            await joins.close()
            await pings.close()
            await pool.close()
            server.stop()
            log.info("service stopped")

    run_service(main, health)
