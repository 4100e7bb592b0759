"""A running api-gateway for one test, with an API key for each role."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from iot_storage.api_keys import generate_key

from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import Services, http_port, query
from tests.support import ServiceProcess, wait_until

ROLES = ("admin", "operator", "viewer")


def create_key(database: TestDatabase, role: str, name: str | None = None, **columns: Any) -> str:
    """Insert an API key as the database owner; returns the key."""
    new = generate_key()
    names = ["name", "prefix", "secret_hash", "role", *columns]
    values = [name or f"test-{role}", new.prefix, new.secret_hash, role, *columns.values()]
    placeholders = ", ".join(["%s"] * len(names))
    query(
        database.admin_url,
        f"INSERT INTO api_keys ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        *values,
    )
    return new.key


def logged_port(process: ServiceProcess, name: str, timeout: float = 20.0) -> int:
    """A port the service logged at start-up (http_port, grpc_port)."""

    def find() -> int | None:
        for line in process.logs().splitlines():
            if f'"{name}"' in line:
                return int(json.loads(line)[name])
        return None

    return wait_until(find, timeout, f"{process.script} to log its {name}")


@dataclass
class Gateway:
    """A started gateway: its URL, its process and one key per role."""

    url: str
    process: ServiceProcess
    keys: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: str | None = "admin", key: str | None = None) -> httpx.Client:
        """An HTTP client authenticated as role (or with key; neither: no header)."""
        token = key or (self.keys[role] if role else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)
        self.clients.append(client)
        return client


def start_gateway(services: Services, database: TestDatabase, **env: str) -> Gateway:
    """Start a gateway; prefer the fixtures, which also close the clients it hands out."""
    # Free ports: tests (and other checkouts' tests) run gateways side by side.
    process = services.start(
        "api-gateway", **{"IOT_GRPC_PORT": "0", "IOT_BROKER_AUTH_PORT": "0", **env}
    )
    port = http_port(process)
    return Gateway(
        url=f"http://127.0.0.1:{port}",
        process=process,
        keys={role: create_key(database, role) for role in ROLES},
    )


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def gateway_factory(services: Services, database: TestDatabase) -> Iterator[GatewayFactory]:
    """Starts gateways with extra environment variables: factory(IOT_X="...")."""
    started: list[Gateway] = []

    def start(**env: str) -> Gateway:
        started.append(start_gateway(services, database, **env))
        return started[-1]

    try:
        yield start
    finally:
        for gateway in started:
            for client in gateway.clients:
                client.close()


@pytest.fixture
def gateway(gateway_factory: GatewayFactory) -> Gateway:
    """A gateway with the default settings."""
    return gateway_factory()
