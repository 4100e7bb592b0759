"""The service layer: every operation of the API, once, for HTTP and gRPC alike.

Each public operation takes the authenticated principal first and is guarded by `requires`;
transports only translate requests in and answers and ServiceErrors out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from iot_messaging import Publisher, PublishError
from iot_routing import Command as RoutingCommand
from iot_routing import commands_key, commands_queue
from iot_service import ServiceMetrics
from iot_storage.api_keys import INSERT_KEY, generate_key

from api_gateway import commands, keys, sensors, targets, telemetry
from api_gateway.auth import Principal, authenticate, bearer_token, requires
from api_gateway.config import Settings
from api_gateway.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from api_gateway.guard import translated
from api_gateway.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    Bucket,
    Command,
    CommandBatch,
    CommandList,
    CommandRequest,
    CommandStatus,
    LogEntry,
    LogLevel,
    Logs,
    Measurements,
    Presence,
    Role,
    Sample,
    Sensor,
    SensorCommandRequest,
    SensorDetail,
    SensorPage,
    Target,
    TargetAssignment,
    TargetCreate,
    TargetList,
    WhoAmI,
)
from api_gateway.timeparse import describe, parse_duration, parse_instant

RECENT_COMMANDS = 10
# Publishes in flight at once for a request to many sensors.
PUBLISH_CONCURRENCY = 64
# Commands stay in the broker a little past their deadline, so that a sensor taking one late
# can still say it expired; after that the broker drops it and the registry's sweep marks it.
BROKER_GRACE_SECONDS = 60


@dataclass(frozen=True)
class MeasurementQuery:
    serial: str
    since: str | None = None
    until: str | None = None
    bucket: str | None = None
    limit: int = 10_000


@dataclass(frozen=True)
class LogQuery:
    serial: str
    level: LogLevel = LogLevel.DEBUG
    since: str | None = None
    until: str | None = None
    limit: int = 1000


@dataclass(frozen=True)
class SensorFilter:
    target: str | None = None
    state: Presence | None = None
    online: bool | None = None
    limit: int = 100
    after: str | None = None


class GatewayService:
    """Operations on sensors, commands, targets, telemetry and API keys."""

    def __init__(
        self, pool: Any, publisher: Publisher, settings: Settings, log: Any, metrics: ServiceMetrics
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._settings = settings
        self._log = log
        self._published = metrics.counter(
            "commands_published", "Commands the broker confirmed", ["action"]
        )
        self._failed = metrics.counter(
            "commands_failed", "Commands the broker did not confirm", ["action"]
        )

    # -- authentication ----------------------------------------------------------------------

    @translated
    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an Authorization header value (UnauthenticatedError otherwise)."""
        return await authenticate(self._pool, bearer_token(authorization))

    @requires(Role.VIEWER)
    async def who_am_i(self, principal: Principal) -> WhoAmI:
        return WhoAmI(
            name=principal.name,
            role=principal.role,
            prefix=principal.prefix,
            expires_at=principal.expires_at,
        )

    # -- sensors -----------------------------------------------------------------------------

    def _presence_args(self) -> tuple[float, float]:
        return (self._settings.default_heartbeat_seconds, self._settings.offline_after_intervals)

    @requires(Role.VIEWER)
    async def list_sensors(self, principal: Principal, where: SensorFilter) -> SensorPage:
        states: list[str] | None = None
        if where.state is not None:
            states = [where.state.value]
        if where.online is not None:
            online = [p.value for p in Presence if (p is not Presence.OFFLINE) == where.online]
            states = [s for s in (states or online) if s in online]
        async with self._pool.acquire() as connection:
            if where.target is not None and not await connection.fetchval(
                targets.EXISTS, where.target
            ):
                raise NotFoundError(f"no target named {where.target!r}")
            rows = await connection.fetch(
                sensors.LIST,
                *self._presence_args(),
                where.target,
                states,
                where.after,
                where.limit + 1,
            )
        page = [sensors.to_sensor(row) for row in rows[: where.limit]]
        more = len(rows) > where.limit
        return SensorPage(sensors=page, next_after=page[-1].serial_number if more else None)

    async def _sensor(self, connection: Any, serial: str) -> Sensor:
        row = await connection.fetchrow(sensors.ONE, *self._presence_args(), serial)
        if row is None:
            raise _unknown_sensor(serial)
        return sensors.to_sensor(row)

    @requires(Role.VIEWER)
    async def get_sensor(self, principal: Principal, serial: str) -> SensorDetail:
        async with self._pool.acquire() as connection:
            sensor = await self._sensor(connection, serial)
            rows = await connection.fetch(commands.OF_SENSOR, serial, RECENT_COMMANDS)
        return SensorDetail(
            **sensor.model_dump(), recent_commands=[commands.to_command(r) for r in rows]
        )

    @requires(Role.ADMIN)
    async def delete_sensor(self, principal: Principal, serial: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(sensors.LOCK_COMMANDS, serial)
            if await connection.fetchval(sensors.DELETE, serial) is None:
                raise _unknown_sensor(serial)
        self._log.info("sensor deleted", serial_number=serial, by=principal.name)

    @requires(Role.OPERATOR)
    async def assign_target(
        self, principal: Principal, serial: str, assignment: TargetAssignment
    ) -> Sensor:
        async with self._pool.acquire() as connection, connection.transaction():
            if assignment.target is not None and not await connection.fetchval(
                targets.EXISTS, assignment.target
            ):
                raise NotFoundError(f"no target named {assignment.target!r}")
            if await connection.fetchval(sensors.ASSIGN, serial, assignment.target) is None:
                raise _unknown_sensor(serial)
            return await self._sensor(connection, serial)

    # -- commands ----------------------------------------------------------------------------

    @requires(Role.OPERATOR)
    async def send_commands(self, principal: Principal, request: CommandRequest) -> CommandBatch:
        """Record, publish and answer; 503 when the broker took none of them."""
        batch = await self._send(principal, request)
        if batch.commands and all(c.status is CommandStatus.FAILED for c in batch.commands):
            raise UnavailableError(
                f"the broker did not accept the command: {batch.commands[0].reason}"
                f" (request {batch.request_id}, recorded as failed)"
            )
        return batch

    @requires(Role.OPERATOR)
    async def send_sensor_command(
        self, principal: Principal, serial: str, request: SensorCommandRequest
    ) -> Command:
        full = CommandRequest(**request.model_dump(), serial_number=serial)
        batch = await self._send(principal, full)
        (command,) = batch.commands
        if command.status is CommandStatus.FAILED:
            raise UnavailableError(
                f"the broker did not accept the command: {command.reason}"
                f" (command {command.command_id}, recorded as failed)"
            )
        return command

    async def _send(self, principal: Principal, request: CommandRequest) -> CommandBatch:
        frequency = request.sample_frequency_hz
        limit = self._settings.max_sample_frequency_hz
        if frequency is not None and frequency > limit:
            raise InvalidArgumentError(
                f"sample_frequency_hz must be at most {limit:g} (got {frequency:g})"
            )
        ttl = request.ttl_seconds or self._settings.command_ttl_seconds
        request_id = uuid.uuid4()
        async with self._pool.acquire() as connection:
            chosen = await self._select(connection, request)
            # Committed before publishing: an acknowledgement can never arrive for a command
            # the database does not know yet.
            rows = await connection.fetch(
                commands.INSERT,
                [uuid.uuid4() for _ in chosen],
                [row["id"] for row in chosen],
                request_id,
                request.action.value,
                frequency,
                principal.name,
                ttl,
            )
        sent = [commands.to_command(row) for row in rows]
        failures = await self._publish_all(sent, ttl)
        ids = {row["serial_number"]: row["id"] for row in chosen}
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(commands.MARK_FAILED, list(failures), list(failures.values()))
            published = sorted(ids[c.serial_number] for c in sent if c.command_id not in failures)
            await connection.execute(
                commands.SET_DESIRED, published, request.action.value, frequency
            )
        for command in sent:
            if command.command_id in failures:
                command.status = CommandStatus.FAILED
                command.reason = failures[command.command_id]
        self._log.info(
            "commands sent",
            request_id=str(request_id),
            action=request.action.value,
            sensors=len(sent),
            failed=len(failures),
            by=principal.name,
        )
        return CommandBatch(request_id=request_id, commands=sent)

    async def _select(self, connection: Any, request: CommandRequest) -> Sequence[Any]:
        if request.serial_number is not None:
            row = await connection.fetchrow(commands.SELECT_ONE, request.serial_number)
            if row is None:
                raise _unknown_sensor(request.serial_number)
            return [row]
        if request.target is not None:
            if not await connection.fetchval(targets.EXISTS, request.target):
                raise NotFoundError(f"no target named {request.target!r}")
            return list(await connection.fetch(commands.SELECT_TARGET, request.target))
        return list(await connection.fetch(commands.SELECT_ALL))

    async def _publish_all(self, sent: Sequence[Command], ttl: int) -> dict[uuid.UUID, str]:
        """Publish every command; the reasons of those the broker did not confirm."""
        failures: dict[uuid.UUID, str] = {}
        slots = asyncio.Semaphore(PUBLISH_CONCURRENCY)

        async def publish(command: Command) -> None:
            action = command.action.value
            async with slots:
                try:
                    async with asyncio.timeout(self._settings.publish_timeout_seconds):
                        await self._publisher.ensure_queue(commands_queue(command.serial_number))
                        await self._publisher.publish(
                            commands_key(command.serial_number, RoutingCommand(action)),
                            commands.to_message(command),
                            expiration_ms=(ttl + BROKER_GRACE_SECONDS) * 1000,
                        )
                except (PublishError, TimeoutError) as exc:
                    reason = "broker unreachable" if isinstance(exc, TimeoutError) else str(exc)
                    failures[command.command_id] = reason
                    self._failed.labels(action).inc()
                    self._log.warning(
                        "command not published",
                        command_id=str(command.command_id),
                        serial_number=command.serial_number,
                        reason=reason,
                    )
                    return
            self._published.labels(action).inc()

        await asyncio.gather(*(publish(command) for command in sent))
        return failures

    @requires(Role.VIEWER)
    async def get_command(self, principal: Principal, command_id: uuid.UUID) -> Command:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(commands.ONE, command_id)
        if row is None:
            raise NotFoundError(f"no command {command_id}")
        return commands.to_command(row)

    @requires(Role.VIEWER)
    async def list_sensor_commands(
        self, principal: Principal, serial: str, limit: int
    ) -> CommandList:
        async with self._pool.acquire() as connection:
            await self._sensor_id(connection, serial)
            rows = await connection.fetch(commands.OF_SENSOR, serial, limit)
        return CommandList(commands=[commands.to_command(row) for row in rows])

    # -- targets -----------------------------------------------------------------------------

    @requires(Role.VIEWER)
    async def list_targets(self, principal: Principal) -> TargetList:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(targets.LIST)
        return TargetList(targets=[targets.to_target(row) for row in rows])

    @requires(Role.VIEWER)
    async def get_target(self, principal: Principal, name: str) -> Target:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(targets.ONE, name)
        if row is None:
            raise NotFoundError(f"no target named {name!r}")
        return targets.to_target(row)

    @requires(Role.OPERATOR)
    async def create_target(self, principal: Principal, new: TargetCreate) -> Target:
        async with self._pool.acquire() as connection:
            try:
                row = await connection.fetchrow(
                    targets.CREATE, new.name, new.latitude, new.longitude
                )
            except asyncpg.UniqueViolationError:
                raise ConflictError(f"a target named {new.name!r} exists already") from None
        return targets.to_target(row)

    @requires(Role.OPERATOR)
    async def delete_target(self, principal: Principal, name: str) -> None:
        async with self._pool.acquire() as connection:
            if await connection.fetchval(targets.DELETE, name) is None:
                raise NotFoundError(f"no target named {name!r}")

    # -- telemetry ---------------------------------------------------------------------------

    async def _sensor_id(self, connection: Any, serial: str) -> int:
        sensor_id = await connection.fetchval(sensors.SENSOR_ID, serial)
        if sensor_id is None:
            raise _unknown_sensor(serial)
        return int(sensor_id)

    def _range(
        self, since: str | None, until: str | None, default: timedelta
    ) -> tuple[datetime, datetime]:
        now = datetime.now(UTC)
        end = parse_instant(until, "until", now, now)
        start = parse_instant(since, "since", now, end - default)
        if start >= end:
            raise InvalidArgumentError("since must be before until")
        if end - start > telemetry.MAX_RANGE:
            raise InvalidArgumentError(
                f"the range may span at most {telemetry.MAX_RANGE.days} days"
            )
        return start, end

    @requires(Role.VIEWER)
    async def measurements(self, principal: Principal, query: MeasurementQuery) -> Measurements:
        serial, limit = query.serial, query.limit
        start, end = self._range(query.since, query.until, timedelta(minutes=10))
        width = parse_duration(query.bucket, "bucket") if query.bucket else None
        if width is not None and (end - start) / width > telemetry.MAX_BUCKETS:
            raise InvalidArgumentError(
                f"at most {telemetry.MAX_BUCKETS} buckets: use a larger bucket or a shorter range"
            )
        async with self._pool.acquire() as connection:
            sensor_id = await self._sensor_id(connection, serial)
            if width is None:
                rows = await connection.fetch(telemetry.RAW, sensor_id, start, end, limit + 1)
                return Measurements(
                    serial_number=serial,
                    since=start,
                    until=end,
                    bucket=None,
                    samples=[Sample(time=r["time"], value=r["value"]) for r in rows[:limit]],
                    truncated=len(rows) > limit,
                )
            rows = await connection.fetch(telemetry.BUCKETS, sensor_id, start, end, width)
        return Measurements(
            serial_number=serial,
            since=start,
            until=end,
            bucket=describe(width),
            buckets=[Bucket(**dict(row)) for row in rows],
            truncated=False,
        )

    @requires(Role.VIEWER)
    async def latest_measurement(self, principal: Principal, serial: str) -> Sample:
        async with self._pool.acquire() as connection:
            sensor_id = await self._sensor_id(connection, serial)
            rows = await connection.fetch(telemetry.LATEST, sensor_id)
        if not rows:
            raise NotFoundError(f"no measurements from {serial!r}")
        return Sample(time=rows[0]["time"], value=rows[0]["value"])

    @requires(Role.VIEWER)
    async def logs(self, principal: Principal, query: LogQuery) -> Logs:
        start, end = self._range(query.since, query.until, timedelta(hours=1))
        async with self._pool.acquire() as connection:
            sensor_id = await self._sensor_id(connection, query.serial)
            rows = await connection.fetch(
                telemetry.LOGS,
                sensor_id,
                start,
                end,
                telemetry.LEVELS_FROM[query.level],
                query.limit,
            )
        return Logs(logs=[LogEntry(**dict(row)) for row in rows])

    # -- API keys ----------------------------------------------------------------------------

    @requires(Role.ADMIN)
    async def create_api_key(self, principal: Principal, new: ApiKeyCreate) -> ApiKeyCreated:
        expires_at = (
            datetime.now(UTC) + timedelta(days=new.expires_in_days)
            if new.expires_in_days is not None
            else None
        )
        key = generate_key()
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                INSERT_KEY, new.name, key.prefix, key.secret_hash, new.role.value, expires_at
            )
        self._log.info("api key created", prefix=key.prefix, role=new.role.value, by=principal.name)
        return ApiKeyCreated(
            id=row["id"],
            name=new.name,
            role=new.role,
            prefix=key.prefix,
            created_at=row["created_at"],
            expires_at=expires_at,
            key=key.key,
        )

    @requires(Role.ADMIN)
    async def list_api_keys(self, principal: Principal) -> ApiKeyList:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(keys.LIST)
        return ApiKeyList(api_keys=[keys.to_info(row) for row in rows])

    @requires(Role.ADMIN)
    async def revoke_api_key(self, principal: Principal, key_id: int) -> None:
        async with self._pool.acquire() as connection:
            if await connection.fetchval(keys.REVOKE, key_id) is None:
                raise NotFoundError(f"no API key {key_id}")
        self._log.info("api key revoked", key_id=key_id, by=principal.name)


def _unknown_sensor(serial: str) -> NotFoundError:
    return NotFoundError(f"no sensor with serial number {serial!r}")
