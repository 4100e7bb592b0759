"""Run the gateway: database pool, publisher, service layer, then the HTTP and gRPC servers,
until SIGTERM; then stop taking requests, finish those in flight and close connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from iot_messaging import Publisher, PublishError
from iot_service import Health, ServiceMetrics, configure_logging, run_service
from iot_storage.pool import create_pool, watch_database

from api_gateway.bootstrap import ensure_bootstrap_key
from api_gateway.config import Settings
from api_gateway.http.app import create_app
from api_gateway.rpc import GrpcServer, start_grpc
from api_gateway.service import GatewayService

BROKER_PROBE_SECONDS = 5.0
SHUTDOWN_GRACE_SECONDS = 10


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
        http = _Server(
            uvicorn.Config(
                create_app(service, health, metrics, log),
                host=settings.http_host,
                port=settings.http_port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            )
        )
        serving = asyncio.create_task(http.serve())
        helpers: list[asyncio.Task[Any]] = [
            asyncio.create_task(watch_database(pool, health, stop)),
            asyncio.create_task(_watch_broker(publisher, health, stop)),
        ]
        rpc: GrpcServer | None = None
        try:
            listening = asyncio.create_task(http.listening.wait())
            await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
            listening.cancel()
            if not http.started:
                await serving  # raises what made the server fail to start
                return
            # After HTTP is up, so that a gRPC failure to bind stops a server that did start.
            rpc = await start_grpc(service, health, settings, log, metrics)
            log.info("service starting", http_port=http.port, grpc_port=rpc.port)
            await stop.wait()
        finally:
            stop.set()
            http.should_exit = True
            # Both transports drain their calls in flight at once, before the pool closes.
            draining = [] if rpc is None else [rpc.stop(SHUTDOWN_GRACE_SECONDS)]
            await asyncio.gather(serving, *draining, *helpers, return_exceptions=True)
            await publisher.close()
            await pool.close()
            log.info("service stopped")

    run_service(main, health)
