"""The numbers behind the live display: rows stored per sensor (from the batch ledger) and the
depths of the measurements queue and the dead-letter queues.

Rows count only batches whose first sample was taken after the run started, so messages left
in the queues by an earlier run, ingested now, do not inflate this run's numbers. Connections
are reopened on the next call after an error: a server restart shows up as "?" for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiormq
import psycopg
from iot_messaging import declare_topology
from iot_routing import MEASUREMENTS_DB_WRITER, SERVICE_QUEUES, QueueSpec

_TIMEOUT_SECONDS = 5.0

_STORED = """
SELECT s.serial_number, coalesce(sum(b.sample_count), 0)::bigint
FROM sensors AS s
LEFT JOIN measurement_batches AS b
    ON b.sensor_id = s.id AND b.first_sample_time >= %(since)s
WHERE s.serial_number = ANY(%(serials)s)
GROUP BY s.serial_number
"""

DEAD_LETTER_QUEUES: tuple[QueueSpec, ...] = tuple(
    dead_letter for queue in SERVICE_QUEUES if (dead_letter := queue.dead_letter) is not None
)


class MonitorError(Exception):
    """The monitor cannot read a count; the message is one line."""


@dataclass(frozen=True)
class QueueCounts:
    queued: int  # ready messages in the measurements queue
    dead_lettered: int  # messages in all dead-letter queues


class Monitor:
    """Reads the counts; one database and one broker connection, reopened when lost."""

    def __init__(
        self, database_url: str, amqp_url: str, serials: Sequence[str], since: datetime
    ) -> None:
        self._database_url = database_url
        self._amqp_url = amqp_url
        self._serials = list(serials)
        self.since = since
        self._database: psycopg.AsyncConnection[Any] | None = None
        self._amqp: Any = None
        self._channel: Any = None

    async def stored(self) -> dict[str, int]:
        """Rows stored since `since`, per serial (0 for a sensor not registered yet)."""
        try:
            async with asyncio.timeout(_TIMEOUT_SECONDS):
                if self._database is None or self._database.closed:
                    self._database = await psycopg.AsyncConnection.connect(
                        self._database_url,
                        autocommit=True,
                        connect_timeout=int(_TIMEOUT_SECONDS),
                        application_name="iot-dev",
                    )
                cursor = await self._database.execute(
                    _STORED, {"since": self.since, "serials": self._serials}
                )
                rows = await cursor.fetchall()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self._close_database()
            raise MonitorError(f"database: {_one_line(exc)}") from exc
        found = {str(serial): int(total) for serial, total in rows}
        return {serial: found.get(serial, 0) for serial in self._serials}

    async def queues(self) -> QueueCounts:
        """Depth of the measurements queue and of all dead-letter queues together."""
        try:
            async with asyncio.timeout(_TIMEOUT_SECONDS):
                channel = await self._open_channel()
                queued = await _depth(channel, MEASUREMENTS_DB_WRITER)
                dead = [await _depth(channel, queue) for queue in DEAD_LETTER_QUEUES]
        except (aiormq.exceptions.AMQPError, OSError, TimeoutError, RuntimeError) as exc:
            await self._close_amqp()
            raise MonitorError(f"RabbitMQ: {_one_line(exc)}") from exc
        return QueueCounts(queued, sum(dead))

    async def close(self) -> None:
        await self._close_database()
        await self._close_amqp()

    async def _open_channel(self) -> Any:
        if self._channel is None or self._channel.is_closed:
            await self._close_amqp()
            self._amqp = await aiormq.connect(self._amqp_url)
            self._channel = await self._amqp.channel()
            # The services declare the same topology; declaring it here (idempotently, with
            # the same arguments) means the depth queries below never hit a missing queue.
            await declare_topology(self._channel, *SERVICE_QUEUES)
        return self._channel

    async def _close_database(self) -> None:
        database, self._database = self._database, None
        if database is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await database.close()

    async def _close_amqp(self) -> None:
        connection, self._amqp, self._channel = self._amqp, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail anyhow
                await asyncio.wait_for(connection.close(), _TIMEOUT_SECONDS)


async def _depth(channel: Any, queue: QueueSpec) -> int:
    # Not passive: a passive declaration of a missing queue closes the channel.
    declared = await channel.queue_declare(queue.name, durable=True, arguments=queue.arguments)
    return int(declared.message_count or 0)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
