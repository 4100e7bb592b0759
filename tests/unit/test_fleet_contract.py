"""The fleet API's contract: every FleetService operation declares its role (deny by default),
the roles are the ones the API promises, and the committed OpenAPI document lists the routes."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from api_gateway.auth import REQUIRED_ROLE, Principal
from api_gateway.errors import PermissionDeniedError
from api_gateway.fleet import FleetService
from api_gateway.models import Role

from tests.support import REPO

COMMITTED = REPO / "services" / "api-gateway" / "openapi.json"
ROLES = {
    "create_project": Role.ADMIN,
    "list_projects": Role.VIEWER,
    "get_project": Role.VIEWER,
    "create_group": Role.ADMIN,
    "list_groups": Role.VIEWER,
    "register_device": Role.ADMIN,
    "list_devices": Role.VIEWER,
    "get_device": Role.VIEWER,
    "rotate_device_credential": Role.ADMIN,
    "revoke_device": Role.ADMIN,
    "create_join_request": Role.OPERATOR,
    "get_join_request": Role.VIEWER,
    "list_join_requests": Role.VIEWER,
}
FLEET_ROUTES = [
    ("/api/v1/projects", "post", "201"),
    ("/api/v1/projects", "get", "200"),
    ("/api/v1/projects/{project}", "get", "200"),
    ("/api/v1/projects/{project}/groups", "post", "201"),
    ("/api/v1/projects/{project}/groups", "get", "200"),
    ("/api/v1/projects/{project}/devices", "post", "201"),
    ("/api/v1/projects/{project}/devices", "get", "200"),
    ("/api/v1/devices/{device_id}", "get", "200"),
    ("/api/v1/devices/{device_id}/rotate-credential", "post", "200"),
    ("/api/v1/devices/{device_id}/revoke", "post", "200"),
    ("/api/v1/join-requests", "post", "202"),
    ("/api/v1/join-requests", "get", "200"),
    ("/api/v1/join-requests/{join_request_id}", "get", "200"),
]


def _public_operations() -> list[str]:
    return [
        name
        for name, _ in inspect.getmembers(FleetService, inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]


def test_every_fleet_operation_requires_its_role() -> None:
    declared = {
        name: getattr(getattr(FleetService, name), REQUIRED_ROLE, None)
        for name in _public_operations()
    }
    # A new operation without `requires` shows up here as None, and fails.
    assert declared == ROLES


@pytest.mark.parametrize("name", sorted(n for n, role in ROLES.items() if role is not Role.VIEWER))
def test_a_viewer_is_refused_before_anything_runs(name: str) -> None:
    """The role is checked first: a service with no database or broker still answers 403."""
    service = FleetService.__new__(FleetService)  # no pool, publisher or settings at all
    viewer = Principal(1, "v", Role.VIEWER, "p", None)
    operation = getattr(service, name)
    arguments = [object()] * (len(inspect.signature(operation).parameters) - 1)
    with pytest.raises(PermissionDeniedError, match=f"needs {ROLES[name].value}"):
        asyncio.run(operation(viewer, *arguments))


def test_openapi_document_lists_the_fleet_routes_with_bearer_auth() -> None:
    paths = json.loads(COMMITTED.read_text())["paths"]
    for path, method, success in FLEET_ROUTES:
        operation = paths[path][method]
        assert operation["security"] == [{"HTTPBearer": []}], path
        assert {success, "401", "403", "503"} <= set(operation["responses"]), (path, method)
    assert "409" in paths["/api/v1/projects/{project}/devices"]["post"]["responses"]
    assert "409" in paths["/api/v1/devices/{device_id}/rotate-credential"]["post"]["responses"]
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    assert set(schemas["DeviceRegistered"]["required"]) >= {"id", "credential", "online"}
    parameter = paths["/api/v1/join-requests/{join_request_id}"]["get"]["parameters"][0]
    assert parameter["schema"]["format"] == "uuid"
