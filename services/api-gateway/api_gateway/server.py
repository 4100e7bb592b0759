"""Run the gateway: database pool, publisher, service layer, then the HTTP and gRPC servers,
until SIGTERM; then stop taking requests, finish those in flight and close connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any

import uvicorn
from iot_messaging import Publisher, PublishError
from iot_service import Health, ServiceMetrics, configure_logging, run_service
from iot_storage.pool import create_pool, watch_database

from api_gateway.bootstrap import ensure_bootstrap_key
from api_gateway.broker_auth import create_broker_auth_app, database_fetch
from api_gateway.config import Settings
from api_gateway.fleet import FleetService
from api_gateway.http.app import create_app
from api_gateway.rpc import GrpcServer, start_grpc
from api_gateway.service import GatewayService

BROKER_PROBE_SECONDS = 5.0
SHUTDOWN_GRACE_SECONDS = 10
# Device logins get database connections of their own, so that slow API reads cannot hold
# them up, and a short statement timeout, so that a slow database denies before RabbitMQ's
# auth_http.request_timeout refuses the connection anyway.
BROKER_AUTH_POOL_SIZE = 2
BROKER_AUTH_STATEMENT_TIMEOUT_MS = 2000


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service runner owns SIGTERM/SIGINT."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @property
    def port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])


def _uvicorn(app: Any, host: str, port: int) -> _Server:
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
    )


async def _started(server: _Server, serving: asyncio.Task[None]) -> bool:
    """Wait until server listens (True) or its serving task ends before that (False)."""
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    return bool(server.started)


async def _watch_broker(publisher: Publisher, health: Health, stop: asyncio.Event) -> None:
    """Keep the 'amqp' readiness condition true to life: can a channel be opened now?"""
    while not stop.is_set():
        try:
            async with asyncio.timeout(BROKER_PROBE_SECONDS):
                await publisher.ensure_channel()
            health.set("amqp", True)
        except (PublishError, TimeoutError):
            health.set("amqp", False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BROKER_PROBE_SECONDS)


def run(settings: Settings, name: str) -> None:
    log = configure_logging(name, settings.log_level, settings.log_format)
    metrics = ServiceMetrics(name)
    health = Health("amqp", "database")

    async def main(stop: asyncio.Event) -> None:
        # The timeout protects the database from expensive telemetry reads (503 when hit).
        pool = await create_pool(
            settings.database_url,
            name,
            settings.database_pool_size,
            statement_timeout_ms=int(settings.query_timeout_seconds * 1000),
        )
        publisher = Publisher(settings.amqp_url, log, max_delay=settings.reconnect_max_seconds)
        if settings.bootstrap_admin_key is not None:
            await ensure_bootstrap_key(pool, settings.bootstrap_admin_key.get_secret_value(), log)
        service = GatewayService(pool, publisher, settings, log, metrics)
        fleet = FleetService(pool, publisher, settings, log, metrics)
        http = _uvicorn(
            create_app(service, fleet, health, metrics, log), settings.http_host, settings.http_port
        )
        auth_pool = await create_pool(
            settings.database_url,
            f"{name}-broker-auth",
            BROKER_AUTH_POOL_SIZE,
            statement_timeout_ms=BROKER_AUTH_STATEMENT_TIMEOUT_MS,
        )
        broker_auth = _uvicorn(
            create_broker_auth_app(
                database_fetch(auth_pool),
                vhost=settings.device_vhost,
                cache_seconds=settings.broker_auth_cache_seconds,
                metrics=metrics,
                log=log,
            ),
            settings.broker_auth_host,
            settings.broker_auth_port,
        )
        serving = asyncio.create_task(http.serve())
        auth_serving: asyncio.Task[None] | None = None
        helpers: list[asyncio.Task[Any]] = [
            asyncio.create_task(watch_database(pool, health, stop)),
            asyncio.create_task(_watch_broker(publisher, health, stop)),
        ]
        rpc: GrpcServer | None = None
        try:
            if not await _started(http, serving):
                await serving  # raises what made the server fail to start
                return
            # After HTTP is up, so that a gRPC failure to bind stops a server that did start.
            rpc = await start_grpc(service, health, settings, log, metrics)
            # Last, for the same reason.
            auth_serving = asyncio.create_task(broker_auth.serve())
            if not await _started(broker_auth, auth_serving):
                await auth_serving
                return
            log.info(
                "service starting",
                http_port=http.port,
                grpc_port=rpc.port,
                broker_auth_port=broker_auth.port,
            )
            await stop.wait()
        finally:
            stop.set()
            http.should_exit = True
            broker_auth.should_exit = True
            # Every listener drains its calls in flight at once, before the pools close.
            draining: list[Awaitable[Any]] = [serving]
            if rpc is not None:
                draining.append(rpc.stop(SHUTDOWN_GRACE_SECONDS))
            if auth_serving is not None:
                draining.append(auth_serving)
            await asyncio.gather(*draining, *helpers, return_exceptions=True)
            await publisher.close()
            await pool.close()
            await auth_pool.close()
            log.info("service stopped")

    run_service(main, health)
