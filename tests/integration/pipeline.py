"""Helpers for pipeline tests: build and publish real protobuf messages, read queues and rows."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiormq
import psycopg
from iot_messaging import declare_topology
from iot_routing import EXCHANGE, SERVICE_QUEUES, QueueSpec
from prometheus_client.parser import text_string_to_metric_families

from tests.messages import (
    batch_message,
    log_message,
    registration_message,
    synthetic_values,
    timestamp,
)
from tests.support import ServiceProcess, wait_until

__all__ = [
    "batch_message",
    "log_message",
    "registration_message",
    "synthetic_values",
    "timestamp",
]

T = TypeVar("T")


class Broker:
    """A test's own connection to its vhost, with the production topology declared."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: Any = None
        self.channel: Any = None

    async def __aenter__(self) -> Broker:
        self._connection = await aiormq.connect(self.url)
        self.channel = await self._connection.channel(publisher_confirms=True)
        await declare_topology(self.channel, *SERVICE_QUEUES)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def publish(self, routing_key: str, body: bytes) -> None:
        confirmation = await self.channel.basic_publish(
            body,
            exchange=EXCHANGE.name,
            routing_key=routing_key,
            properties=aiormq.spec.Basic.Properties(delivery_mode=2),
        )
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)

    async def publish_all(self, messages: Iterable[tuple[str, bytes]]) -> None:
        await asyncio.gather(*(self.publish(key, body) for key, body in messages))

    async def depth(self, queue: QueueSpec | str) -> int:
        name = queue if isinstance(queue, str) else queue.name
        declared = await self.channel.queue_declare(name, passive=True)
        return int(declared.message_count or 0)

    async def take_all(self, queue: str) -> list[bytes]:
        """Fetch (and ack) every message now in queue."""
        bodies: list[bytes] = []
        while True:
            message = await self.channel.basic_get(queue, no_ack=True)
            if message.delivery_tag is None:
                return bodies
            bodies.append(message.body)


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()


def scalar(url: str, sql: str, *params: Any) -> Any:
    return query(url, sql, *params)[0][0]


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, poll: float = 0.05
) -> T:
    """Await probe until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Services:
    """Starts service processes for one test and stops exactly those afterwards."""

    def __init__(self, amqp_url: str, database_url: str, log_dir: Path) -> None:
        self._env = {"IOT_AMQP_URL": amqp_url, "IOT_DATABASE_URL": database_url}
        self._log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def start(self, script: str, *args: str, **env: str) -> ServiceProcess:
        process = ServiceProcess(
            script, {**self._env, "IOT_HTTP_PORT": "0", **env}, self._log_dir, args
        ).start()
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.process is not None:
                process.stop()

    def dump_logs(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {p.script} (pid {p.pid}) ---\n" + "\n".join(p.logs().splitlines()[-lines:])
            for p in self.started
            if p.process is not None
        )


def http_port(process: ServiceProcess, timeout: float = 20.0) -> int:
    """The health/metrics port a service chose (it logs it at start-up)."""

    def find() -> int | None:
        for line in process.logs().splitlines():
            if '"http_port"' in line:
                return int(json.loads(line)["http_port"])
        return None

    return wait_until(find, timeout, f"{process.script} to log its http port")


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET a path of a service's health server; (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(port: int, name: str, **labels: str) -> float:
    """Sum of a Prometheus metric's samples on a service's /metrics, over the label sets that
    include `labels` (all of them when none are given)."""
    _, text = http_get(port, "/metrics")
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def execute(url: str, sql: str, *params: Any) -> None:
    """Run one statement that returns no rows."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql, params)
