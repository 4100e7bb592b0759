"""The HTTP/JSON transport: FastAPI routes that call the service layer and nothing else.

Errors leave as `{"detail": "<one line>"}` with the status the service error stands for.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from iot_service import Health, ServiceMetrics
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api_gateway.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
    UnauthenticatedError,
    UnavailableError,
)
from api_gateway.fleet import FleetService
from api_gateway.http import fleet_routes, routes, ui
from api_gateway.service import GatewayService
from api_gateway.validation import describe_validation

PREFIX = "/api/v1"
STATUS = {
    UnauthenticatedError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    InvalidArgumentError: 422,
    UnavailableError: 503,
}
DESCRIPTION = """
Operate a fleet of sensors: their desired and reported state, commands and their status,
targets, measurements and logs; and session devices: projects, device groups, devices with
their broker credentials, and join requests that make a group join a live session. Every
route needs `Authorization: Bearer <api key>` except the health routes and this document.
"""


def _api() -> FastAPI:
    """The routes and error handling, without the running parts (service, health, metrics)."""
    app = FastAPI(
        title="IoT telemetry gateway",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.include_router(routes.router, prefix=PREFIX)
    app.include_router(fleet_routes.router, prefix=PREFIX)
    app.include_router(ui.router)
    _add_error_handlers(app)
    # The Go original's readiness route; open, like the other health routes.
    app.get(
        f"{PREFIX}/readyz",
        tags=["health"],
        summary="503 while the database or the broker cannot be reached",
        responses={503: {"description": "not ready"}},
        response_class=PlainTextResponse,
    )(_readiness)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the gateway serves at /api/v1/openapi.json."""
    return _api().openapi()


def create_app(
    service: GatewayService,
    fleet: FleetService,
    health: Health,
    metrics: ServiceMetrics,
    log: Any,
) -> FastAPI:
    app = _api()
    app.state.service = service
    app.state.fleet = fleet
    app.state.health = health
    _add_health(app, metrics)
    _add_request_metrics(app, metrics, log)
    return app


def _readiness(request: Request) -> PlainTextResponse:
    health: Health = request.app.state.health
    missing = health.not_ready()
    if missing:
        return PlainTextResponse("not ready: " + ", ".join(missing) + "\n", status_code=503)
    return PlainTextResponse("ready\n")


def _add_health(app: FastAPI, metrics: ServiceMetrics) -> None:
    @app.get("/livez", include_in_schema=False)
    def livez(request: Request) -> PlainTextResponse:
        alive = request.app.state.health.alive()
        return PlainTextResponse(
            "alive\n" if alive else "event loop stalled\n", status_code=200 if alive else 503
        )

    app.get("/readyz", include_in_schema=False)(_readiness)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation(exc.errors())}, status_code=422)


def _add_request_metrics(app: FastAPI, metrics: ServiceMetrics, log: Any) -> None:
    requests = metrics.counter("http_requests", "HTTP requests answered", ["route", "status"])
    seconds = metrics.histogram("http_request_seconds", "HTTP request duration", labels=["route"])

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        # The route template, not the path: serial numbers must not become label values.
        name = getattr(route, "path", "unmatched")
        requests.labels(name, str(response.status_code)).inc()
        seconds.labels(name).observe(elapsed)
        if not name.startswith(("/livez", "/readyz", "/metrics")):
            log.info(
                "http request",
                method=request.method,
                route=name,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
        return response
