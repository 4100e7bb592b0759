"""The fleet's service layer: projects, device groups, devices and join requests.

Like GatewayService, every public operation takes the authenticated principal first and is
guarded by `requires` (which also translates database outages into UnavailableError); a test
checks that none lacks a role. The HTTP routes only translate requests in and answers out.

Broker work (a device's queue, the hand-over of a join request) runs within
IOT_PUBLISH_TIMEOUT_SECONDS, and the API answers 2xx only once the broker has done it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from iot.v1.join_pb2 import JoinRequest
from iot_messaging import Publisher, PublishError
from iot_routing import JOIN_REQUESTS, device_queue, device_queue_name, join_requests_key
from iot_routing import new_device_id as draw_device_id
from iot_service import ServiceMetrics
from iot_storage.device_credentials import generate_credential

from api_gateway.auth import Principal, requires
from api_gateway.config import Settings
from api_gateway.errors import ConflictError, InvalidArgumentError, NotFoundError, UnavailableError
from api_gateway.fleet import devices_sql, join_sql, projects_sql
from api_gateway.fleet.models import (
    DEFAULT_JOIN_REQUEST_PAGE,
    BrokerCredential,
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
    metadata_json,
)
from api_gateway.models import Role
from api_gateway.timeparse import parse_deadline

# Device ids are 82 random bits: a second draw is already next to impossible.
ID_ATTEMPTS = 3


@dataclass(frozen=True)
class JoinRequestFilter:
    project: str | None = None
    group: str | None = None
    limit: int = DEFAULT_JOIN_REQUEST_PAGE


class FleetService:
    """Operations on projects, device groups, devices and join requests."""

    def __init__(
        self, pool: Any, publisher: Publisher, settings: Settings, log: Any, metrics: ServiceMetrics
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._settings = settings
        self._log = log
        self._handed_over = metrics.counter(
            "join_requests_published", "Join requests the broker confirmed"
        )
        self._not_handed_over = metrics.counter(
            "join_requests_failed", "Join requests the broker did not confirm"
        )

    @property
    def _offline_after(self) -> float:
        return self._settings.device_offline_after_seconds

    async def _broker(self, operation: Callable[[], Awaitable[None]]) -> str | None:
        """Run broker work within the publish timeout: None when done, else why not."""
        try:
            async with asyncio.timeout(self._settings.publish_timeout_seconds):
                await operation()
        except TimeoutError:
            return "broker unreachable"
        except PublishError as exc:
            return str(exc)
        return None

    # -- projects and groups -----------------------------------------------------------------

    @requires(Role.ADMIN)
    async def create_project(self, principal: Principal, new: ProjectCreate) -> Project:
        async with self._pool.acquire() as connection:
            try:
                row = await connection.fetchrow(projects_sql.INSERT_PROJECT, new.id, new.name)
            except asyncpg.UniqueViolationError:
                raise ConflictError(f"a project with id {new.id!r} exists already") from None
        self._log.info("project created", project=new.id, by=principal.name)
        return projects_sql.to_project(row)

    @requires(Role.VIEWER)
    async def list_projects(self, principal: Principal) -> ProjectList:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(projects_sql.LIST_PROJECTS)
        return ProjectList(projects=[projects_sql.to_summary(row) for row in rows])

    @requires(Role.VIEWER)
    async def get_project(self, principal: Principal, project: str) -> ProjectDetail:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(projects_sql.ONE_PROJECT, project)
            if row is None:
                raise _unknown_project(project)
            groups = await connection.fetch(projects_sql.GROUPS, project, self._offline_after)
        return ProjectDetail(
            **projects_sql.to_project(row).model_dump(),
            groups=[projects_sql.to_group(group) for group in groups],
        )

    @requires(Role.ADMIN)
    async def create_group(self, principal: Principal, project: str, new: GroupCreate) -> Group:
        async with self._pool.acquire() as connection:
            try:
                row = await connection.fetchrow(
                    projects_sql.INSERT_GROUP, project, new.name, new.comments
                )
            except asyncpg.ForeignKeyViolationError:
                raise _unknown_project(project) from None
            except asyncpg.UniqueViolationError:
                raise ConflictError(
                    f"project {project!r} has a group named {new.name!r} already"
                ) from None
        self._log.info("group created", project=project, group=new.name, by=principal.name)
        return projects_sql.to_group(row)

    @requires(Role.VIEWER)
    async def list_groups(self, principal: Principal, project: str) -> GroupList:
        async with self._pool.acquire() as connection:
            await _require_project(connection, project)
            rows = await connection.fetch(projects_sql.GROUPS, project, self._offline_after)
        return GroupList(groups=[projects_sql.to_group(row) for row in rows])

    # -- devices -----------------------------------------------------------------------------

    @requires(Role.ADMIN)
    async def register_device(
        self, principal: Principal, project: str, new: DeviceCreate
    ) -> DeviceRegistered:
        """Record the device and declare its queue; its credential is shown only now."""
        credential = generate_credential()
        async with self._pool.acquire() as connection, connection.transaction():
            row = await self._insert_device(connection, project, new, credential.secret_hash)
            device = devices_sql.to_device(row)
            # The queue is declared before the row commits, and the row rolls back when the
            # broker does not take the declaration: a 201 means the device can consume at once
            # (it only passive-declares its queue, having no right to declare one), and no
            # credential is handed out for a device without a queue. The join-dispatcher
            # declares queues again before each JOIN, but a device would wait for its first
            # JOIN until then. The transaction waits on the broker for at most
            # IOT_PUBLISH_TIMEOUT_SECONDS; a commit failing after the declaration leaves an
            # empty queue that no credential can read.
            queue = device_queue(project, new.group, device.id)
            failure = await self._broker(lambda: self._publisher.ensure_queue(queue))
            if failure is not None:
                self._log.warning("device queue not declared", project=project, reason=failure)
                raise UnavailableError(
                    f"the broker did not declare the device's queue ({failure});"
                    " nothing was registered"
                )
        self._log.info(
            "device registered",
            device_id=device.id,
            project=project,
            group=new.group,
            by=principal.name,
        )
        return self._with_credential(device, credential.secret)

    async def _insert_device(
        self, connection: Any, project: str, new: DeviceCreate, secret_hash: bytes
    ) -> Any:
        for _ in range(ID_ATTEMPTS):
            try:
                # A savepoint: a drawn id that exists already must not end the transaction.
                async with connection.transaction():
                    return await connection.fetchrow(
                        devices_sql.INSERT,
                        self._offline_after,
                        draw_device_id(),
                        project,
                        new.group,
                        new.name,
                        new.comments,
                        secret_hash,
                    )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != devices_sql.ID_CONSTRAINT:
                    raise ConflictError(
                        f"project {project!r} has a device named {new.name!r} already"
                    ) from None
            except asyncpg.ForeignKeyViolationError:
                raise await _missing_group(connection, project, new.group) from None
        raise UnavailableError("could not draw an unused device id; retry")

    def _with_credential(self, device: Device, secret: str) -> DeviceRegistered:
        credential = BrokerCredential(
            username=device.id, password=secret, vhost=self._settings.device_vhost
        )
        return DeviceRegistered(**device.model_dump(), credential=credential)

    @requires(Role.VIEWER)
    async def list_devices(
        self, principal: Principal, project: str, group: str | None, include_revoked: bool
    ) -> DeviceList:
        async with self._pool.acquire() as connection:
            if group is None:
                await _require_project(connection, project)
            elif not await connection.fetchval(projects_sql.GROUP_EXISTS, project, group):
                raise await _missing_group(connection, project, group)
            rows = await connection.fetch(
                devices_sql.LIST, self._offline_after, project, group, include_revoked
            )
        return DeviceList(devices=[devices_sql.to_device(row) for row in rows])

    @requires(Role.VIEWER)
    async def get_device(self, principal: Principal, device_id: str) -> Device:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(devices_sql.ONE, self._offline_after, device_id)
        if row is None:
            raise _unknown_device(device_id)
        return devices_sql.to_device(row)

    @requires(Role.ADMIN)
    async def rotate_device_credential(
        self, principal: Principal, device_id: str
    ) -> DeviceRegistered:
        """A new password for the device; the old one stops working."""
        credential = generate_credential()
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                devices_sql.ROTATE, self._offline_after, device_id, credential.secret_hash
            )
            if row is None:
                if await connection.fetchrow(devices_sql.ONE, self._offline_after, device_id):
                    raise ConflictError(f"device {device_id} is revoked; register a new one")
                raise _unknown_device(device_id)
        self._log.info("device credential rotated", device_id=device_id, by=principal.name)
        return self._with_credential(devices_sql.to_device(row), credential.secret)

    @requires(Role.ADMIN)
    async def revoke_device(self, principal: Principal, device_id: str) -> Device:
        """Revoke the device (for good) and delete its queue, which ends its consumer."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(devices_sql.REVOKE, self._offline_after, device_id)
        if row is None:
            raise _unknown_device(device_id)
        # Committed first: the credential stops working whatever the broker does. Deleting
        # the queue is idempotent, so a repeated call finishes what a failed one left.
        queue = device_queue_name(device_id)
        failure = await self._broker(lambda: self._publisher.delete_queue(queue))
        if failure is not None:
            self._log.warning("device queue not deleted", device_id=device_id, reason=failure)
            raise UnavailableError(
                f"device {device_id} is revoked, but the broker did not delete its queue"
                f" ({failure}); repeat the call"
            )
        self._log.info("device revoked", device_id=device_id, by=principal.name)
        return devices_sql.to_device(row)

    # -- join requests -----------------------------------------------------------------------

    @requires(Role.OPERATOR)
    async def create_join_request(
        self, principal: Principal, request: JoinRequestCreate
    ) -> JoinAccepted:
        """Record the request, then hand it to the join-dispatcher; 503 if the broker did not
        take it (the request is then recorded as failed)."""
        now = datetime.now(UTC)
        longest = timedelta(seconds=self._settings.max_join_deadline_seconds)
        deadline = parse_deadline(request.deadline, "deadline", now, longest)
        request_id = uuid.uuid4()
        async with self._pool.acquire() as connection:
            try:
                # Committed before publishing: the dispatcher always finds the row it is given.
                await connection.execute(
                    join_sql.INSERT,
                    request_id,
                    request.project,
                    request.group,
                    request.session_id,
                    request.session_name,
                    metadata_json(request.session_metadata),
                    principal.name,
                    now,
                    deadline,
                )
            except asyncpg.ForeignKeyViolationError:
                raise await _missing_group(connection, request.project, request.group) from None
        message = join_sql.to_message(request_id, request, now, deadline)
        failure = await self._broker(lambda: self._hand_over(request.project, message))
        if failure is not None and await self._mark_failed(request_id, failure):
            raise UnavailableError(
                f"the broker did not accept join request {request_id} ({failure});"
                " it is recorded as failed"
            )
        self._handed_over.inc()
        self._log.info(
            "join requested",
            join_request_id=str(request_id),
            project=request.project,
            group=request.group,
            session_id=request.session_id,
            deadline=deadline.isoformat(),
            by=principal.name,
        )
        return JoinAccepted(join_request_id=request_id, deadline=deadline)

    async def _hand_over(self, project: str, message: JoinRequest) -> None:
        # The dispatcher's queue may not exist yet (dispatcher not started): declaring it
        # makes the request wait there instead of being unroutable.
        await self._publisher.ensure_queue(JOIN_REQUESTS)
        await self._publisher.publish(join_requests_key(project), message)

    async def _mark_failed(self, request_id: uuid.UUID, reason: str) -> bool:
        """Record the failed hand-over; False when the dispatcher has the request already."""
        async with self._pool.acquire() as connection:
            failed = await join_sql.mark_failed(connection, request_id, reason)
        if not failed:
            self._log.info(
                "join request confirm lost, but the dispatcher has it",
                join_request_id=str(request_id),
            )
            return False
        self._not_handed_over.inc()
        self._log.warning(
            "join request not published", join_request_id=str(request_id), reason=reason
        )
        return True

    @requires(Role.VIEWER)
    async def get_join_request(
        self, principal: Principal, join_request_id: uuid.UUID
    ) -> JoinRequestStatus:
        async with (
            self._pool.acquire() as connection,
            # One snapshot: the counts and the per-device rows tell the same story.
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            row = await connection.fetchrow(join_sql.ONE, join_request_id)
            if row is None:
                raise NotFoundError(f"no join request {join_request_id}")
            deliveries = await connection.fetch(join_sql.DELIVERIES, join_request_id)
        return JoinRequestStatus(
            **join_sql.to_summary(row).model_dump(),
            devices=[join_sql.to_delivery(delivery) for delivery in deliveries],
        )

    @requires(Role.VIEWER)
    async def list_join_requests(
        self, principal: Principal, where: JoinRequestFilter
    ) -> JoinRequestList:
        if where.group is not None and where.project is None:
            raise InvalidArgumentError("group: give project too (group names are per project)")
        async with self._pool.acquire() as connection:
            if where.group is not None and where.project is not None:
                if not await connection.fetchval(
                    projects_sql.GROUP_EXISTS, where.project, where.group
                ):
                    raise await _missing_group(connection, where.project, where.group)
            elif where.project is not None:
                await _require_project(connection, where.project)
            rows = await connection.fetch(join_sql.LIST, where.project, where.group, where.limit)
        return JoinRequestList(join_requests=[join_sql.to_summary(row) for row in rows])


async def _require_project(connection: Any, project: str) -> None:
    if not await connection.fetchval(projects_sql.PROJECT_EXISTS, project):
        raise _unknown_project(project)


async def _missing_group(connection: Any, project: str, group: str) -> NotFoundError:
    """The precise 404 for a project/group pair that does not exist."""
    await _require_project(connection, project)
    return NotFoundError(f"project {project!r} has no group named {group!r}")


def _unknown_project(project: str) -> NotFoundError:
    return NotFoundError(f"no project with id {project!r}")


def _unknown_device(device_id: str) -> NotFoundError:
    return NotFoundError(f"no device {device_id}")
