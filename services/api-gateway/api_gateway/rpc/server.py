"""The gRPC server of the gateway: SensorGateway, the standard health service and reflection.

The health service (grpc.health.v1.Health) answers for the whole server ("") and for
iot.v1.SensorGateway alike: SERVING while the gateway's readiness conditions hold (the same
ones /readyz reports), NOT_SERVING otherwise and from the start of shutdown on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from iot.v1.gateway_pb2_grpc import add_SensorGatewayServicer_to_server
from iot_service import Health, ServiceMetrics

from api_gateway.config import Settings
from api_gateway.rpc.servicer import SERVICE_NAME, GatewayServicer
from api_gateway.service import GatewayService

# How often the health service's status is brought in line with the readiness conditions; the
# conditions themselves are probed every few seconds (server.BROKER_PROBE_SECONDS and the pool's
# watcher), so checking more often would only repeat the same answer.
HEALTH_REFRESH_SECONDS = 1.0
_CHECKED = ("", SERVICE_NAME)  # "" is the whole server, by the health protocol's convention
# gRPC sets SO_REUSEPORT by default, which lets a second gateway bind the same port and take half
# the calls; a port in use must fail the start instead, as it does for HTTP.
_OPTIONS = [("grpc.so_reuseport", 0)]


@dataclass
class GrpcServer:
    """A started gRPC server: the port it bound and how to stop it."""

    server: grpc.aio.Server
    port: int
    _checks: grpc_health.aio.HealthServicer
    _follower: asyncio.Task[None]

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, and give those in flight `grace` seconds."""
        self._follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._follower
        await self._checks.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_grpc(
    service: GatewayService, health: Health, settings: Settings, log: Any, metrics: ServiceMetrics
) -> GrpcServer:
    """Serve gRPC on settings.http_host at settings.grpc_port (0: a free port)."""
    server = grpc.aio.server(options=_OPTIONS)
    add_SensorGatewayServicer_to_server(GatewayServicer(service, log, metrics), server)
    checks = grpc_health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, grpc_health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    # The same interface as HTTP: the gateway has one notion of where it listens.
    host = settings.http_host
    address = f"[{host}]" if ":" in host else host  # an IPv6 address needs its brackets
    port = server.add_insecure_port(f"{address}:{settings.grpc_port}")  # RuntimeError if taken
    await _refresh(checks, health)  # the right answer from the first call on
    await server.start()
    follower = asyncio.create_task(_follow(checks, health))
    return GrpcServer(server, port, checks, follower)


async def _refresh(checks: grpc_health.aio.HealthServicer, health: Health) -> None:
    ready = not health.not_ready()
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if ready
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in _CHECKED:
        await checks.set(name, status)


async def _follow(checks: grpc_health.aio.HealthServicer, health: Health) -> None:
    while True:
        await asyncio.sleep(HEALTH_REFRESH_SECONDS)
        await _refresh(checks, health)
