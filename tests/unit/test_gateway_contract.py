"""The gateway's contract: the committed OpenAPI document, and deny-by-default authorisation."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from api_gateway.auth import REQUIRED_ROLE, Principal
from api_gateway.http import routes
from api_gateway.http.app import PREFIX, _api
from api_gateway.models import Role
from api_gateway.openapi import render
from api_gateway.service import GatewayService
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support import REPO

COMMITTED = REPO / "services" / "api-gateway" / "openapi.json"
# Routes anyone may call: the document describing the API and the readiness probe.
OPEN_ROUTES = {
    f"{PREFIX}/openapi.json",
    f"{PREFIX}/docs",
    f"{PREFIX}/readyz",
    f"{PREFIX}/docs/oauth2-redirect",
}


def test_committed_openapi_document_matches_the_routes() -> None:
    assert COMMITTED.read_text() == render(), "run `make openapi` and commit the result"


def test_openapi_document_names_the_issue_routes_and_bearer_auth() -> None:
    document = json.loads(Path(COMMITTED).read_text())
    paths = document["paths"]
    for path, method in [
        ("/api/v1/sensors", "get"),
        ("/api/v1/sensors/{serial}", "delete"),
        ("/api/v1/commands", "post"),
        ("/api/v1/commands/{command_id}", "get"),
        ("/api/v1/sensors/{serial}/sleep", "put"),
        ("/api/v1/sensors/{serial}/change-sample-frequency", "put"),
        ("/api/v1/targets", "post"),
        ("/api/v1/sensors/{serial}/measurements", "get"),
        ("/api/v1/sensors/{serial}/logs", "get"),
        ("/api/v1/api-keys", "post"),
    ]:
        operation = paths[path][method]
        assert operation["security"] == [{"HTTPBearer": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
    assert paths["/api/v1/commands"]["post"]["responses"]["202"]
    assert "503" in paths["/api/v1/commands"]["post"]["responses"]


def _public_operations() -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(GatewayService, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "authenticate"
    ]


def test_every_service_operation_requires_a_role() -> None:
    operations = _public_operations()
    assert len(operations) >= 18
    missing = [
        name for name in operations if not hasattr(getattr(GatewayService, name), REQUIRED_ROLE)
    ]
    assert missing == []


def test_writes_need_operator_or_admin() -> None:
    required = {
        name: getattr(GatewayService, name).__dict__[REQUIRED_ROLE] for name in _public_operations()
    }
    assert required["send_commands"] is Role.OPERATOR
    assert required["delete_sensor"] is Role.ADMIN
    assert required["create_api_key"] is Role.ADMIN
    assert required["list_sensors"] is Role.VIEWER
    viewer = Principal(1, "v", Role.VIEWER, "p", None)
    assert not viewer.allows(Role.OPERATOR)
    assert Principal(2, "a", Role.ADMIN, "q", None).allows(Role.OPERATOR)


def api_routes() -> list[tuple[str, APIRoute]]:
    """Every (path, route) under /api/v1, with the prefix its router was included with.

    FastAPI keeps included routers as branches of app.routes, so this walks
    iter_route_contexts rather than app.routes (which would miss every included route).
    """
    routes_found = []
    for context in iter_route_contexts(_api().routes):
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute) and path is not None and path.startswith(PREFIX):
            routes_found.append((path, route))
    return routes_found


def test_every_api_route_authenticates() -> None:
    def depends_on_principal(dependant: object) -> bool:
        calls = [getattr(d, "call", None) for d in getattr(dependant, "dependencies", [])]
        return routes._principal in calls or any(
            depends_on_principal(d) for d in getattr(dependant, "dependencies", [])
        )

    found = api_routes()
    # The sensors' routes and the fleet's: a walk that finds few has lost its way.
    assert len(found) >= 35
    unguarded = [
        path
        for path, route in found
        if path not in OPEN_ROUTES and not depends_on_principal(route.dependant)
    ]
    assert unguarded == []
