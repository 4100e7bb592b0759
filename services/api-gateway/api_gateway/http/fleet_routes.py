"""The /api/v1 routes of projects, device groups, devices and join requests: parse the request,
call one FleetService operation, return its answer.

Callers authenticate through the same dependency as every other route (routes._principal), so
the test that every /api/v1 route authenticates covers these too.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api_gateway.fleet import FleetService, JoinRequestFilter
from api_gateway.fleet.models import (
    DEFAULT_JOIN_REQUEST_PAGE,
    DEVICE_ID_PATTERN,
    MAX_JOIN_REQUEST_PAGE,
    SLUG_PATTERN,
    Device,
    DeviceCreate,
    DeviceList,
    DeviceRegistered,
    Group,
    GroupCreate,
    GroupList,
    JoinAccepted,
    JoinRequestCreate,
    JoinRequestList,
    JoinRequestStatus,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectList,
)
from api_gateway.http.routes import Caller, errors


def _fleet(request: Request) -> FleetService:
    fleet: FleetService = request.app.state.fleet
    return fleet


Fleet = Annotated[FleetService, Depends(_fleet)]
ProjectPath = Annotated[str, Path(pattern=SLUG_PATTERN, examples=["studio-a"])]
DevicePath = Annotated[str, Path(pattern=DEVICE_ID_PATTERN, examples=["dev-0123456789abcdef"])]
SlugQuery = Annotated[str | None, Query(pattern=SLUG_PATTERN)]

router = APIRouter()

# -- projects and groups ---------------------------------------------------------------------


@router.post("/projects", status_code=201, tags=["projects"], responses=errors(400, 409, 422, 503))
async def create_project(fleet: Fleet, caller: Caller, new: ProjectCreate) -> Project:
    return await fleet.create_project(caller, new)


@router.get("/projects", tags=["projects"], responses=errors(503))
async def list_projects(fleet: Fleet, caller: Caller) -> ProjectList:
    return await fleet.list_projects(caller)


@router.get("/projects/{project}", tags=["projects"], responses=errors(404, 422, 503))
async def get_project(fleet: Fleet, caller: Caller, project: ProjectPath) -> ProjectDetail:
    return await fleet.get_project(caller, project)


@router.post(
    "/projects/{project}/groups",
    status_code=201,
    tags=["projects"],
    responses=errors(400, 404, 409, 422, 503),
)
async def create_group(
    fleet: Fleet, caller: Caller, project: ProjectPath, new: GroupCreate
) -> Group:
    return await fleet.create_group(caller, project, new)


@router.get("/projects/{project}/groups", tags=["projects"], responses=errors(404, 422, 503))
async def list_groups(fleet: Fleet, caller: Caller, project: ProjectPath) -> GroupList:
    return await fleet.list_groups(caller, project)


# -- devices ---------------------------------------------------------------------------------


@router.post(
    "/projects/{project}/devices",
    status_code=201,
    tags=["devices"],
    responses=errors(400, 404, 409, 422, 503),
)
async def register_device(
    fleet: Fleet, caller: Caller, project: ProjectPath, new: DeviceCreate
) -> DeviceRegistered:
    """Register a device and declare its queue; the answer holds its broker password, which
    is not shown again."""
    return await fleet.register_device(caller, project, new)


@router.get("/projects/{project}/devices", tags=["devices"], responses=errors(404, 422, 503))
async def list_devices(
    *,
    fleet: Fleet,
    caller: Caller,
    project: ProjectPath,
    group: SlugQuery = None,
    include_revoked: bool = False,
) -> DeviceList:
    return await fleet.list_devices(caller, project, group, include_revoked)


@router.get("/devices/{device_id}", tags=["devices"], responses=errors(404, 422, 503))
async def get_device(fleet: Fleet, caller: Caller, device_id: DevicePath) -> Device:
    return await fleet.get_device(caller, device_id)


@router.post(
    "/devices/{device_id}/rotate-credential",
    tags=["devices"],
    responses=errors(404, 409, 422, 503),
)
async def rotate_device_credential(
    fleet: Fleet, caller: Caller, device_id: DevicePath
) -> DeviceRegistered:
    """A new broker password for the device (shown only now); 409 if it is revoked."""
    return await fleet.rotate_device_credential(caller, device_id)


@router.post("/devices/{device_id}/revoke", tags=["devices"], responses=errors(404, 422, 503))
async def revoke_device(fleet: Fleet, caller: Caller, device_id: DevicePath) -> Device:
    """Revoke the device for good and delete its queue; repeating it changes nothing."""
    return await fleet.revoke_device(caller, device_id)


# -- join requests ---------------------------------------------------------------------------


@router.post(
    "/join-requests",
    status_code=202,
    tags=["join requests"],
    responses=errors(400, 404, 422, 503),
)
async def create_join_request(
    fleet: Fleet, caller: Caller, request: JoinRequestCreate
) -> JoinAccepted:
    """Ask every device of a group to join a session; 503 (request recorded as failed) when
    the broker did not take it."""
    return await fleet.create_join_request(caller, request)


@router.get(
    "/join-requests/{join_request_id}", tags=["join requests"], responses=errors(404, 422, 503)
)
async def get_join_request(
    fleet: Fleet, caller: Caller, join_request_id: uuid.UUID
) -> JoinRequestStatus:
    return await fleet.get_join_request(caller, join_request_id)


@router.get("/join-requests", tags=["join requests"], responses=errors(404, 422, 503))
async def list_join_requests(
    *,
    fleet: Fleet,
    caller: Caller,
    project: SlugQuery = None,
    group: Annotated[str | None, Query(pattern=SLUG_PATTERN, description="needs project")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_JOIN_REQUEST_PAGE)] = DEFAULT_JOIN_REQUEST_PAGE,
) -> JoinRequestList:
    """Join requests, newest first, without their per-device rows."""
    where = JoinRequestFilter(project=project, group=group, limit=limit)
    return await fleet.list_join_requests(caller, where)
