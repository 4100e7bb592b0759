"""The throw-away database and RabbitMQ vhost of one run, and facts about the machine."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import psycopg
from iot_storage.migrate import APP_ROLE, migrate
from iot_storage.urls import database_url
from psycopg import sql

from tests.bench.settings import ADMIN_URL, AMQP_SERVER_URL
from tests.support import rabbitmqctl


@dataclass(frozen=True)
class BenchDatabase:
    """A freshly migrated database and the URLs of the roles that use it."""

    name: str
    admin_url: str  # the owner (superuser): setting up, truncating, the (a) and (b) baselines
    app_url: str  # iot_app, as the ingesters connect


def drop_database(name: str) -> None:
    """Drop the database, disconnecting whoever is still connected to it."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """Create and migrate ``iot_bench_<random>``; drop it on the way out, whatever happened."""
    name = f"iot_bench_{secrets.token_hex(5)}"
    database = BenchDatabase(
        name, database_url(ADMIN_URL, name), database_url(ADMIN_URL, name, APP_ROLE)
    )
    try:
        migrate(database.admin_url, create_database=True, login_without_password=True)
        yield database
    finally:
        drop_database(name)


@contextmanager
def bench_vhost() -> Iterator[str]:
    """Yield the URL of a new vhost ``iot-bench-<random>``; delete it (and its queues) after."""
    vhost = f"iot-bench-{secrets.token_hex(5)}"
    user = urlsplit(AMQP_SERVER_URL).username or "guest"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{AMQP_SERVER_URL.rstrip('/')}/{quote(vhost, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@dataclass(frozen=True)
class MachineFacts:
    """What the numbers depend on."""

    cores: int
    postgres_version: str
    timescaledb_available: bool
    flavor: str
    synchronous_commit: str
    shared_buffers: str

    def lines(self) -> list[str]:
        timescale = "available" if self.timescaledb_available else "not available"
        layout = (
            "hypertable with 1-day chunks"
            if self.flavor == "timescaledb"
            else "plain PostgreSQL, partitioned by day"
        )
        return [
            f"cores: {self.cores}",
            f"PostgreSQL {self.postgres_version} (synchronous_commit={self.synchronous_commit},"
            f" shared_buffers={self.shared_buffers})",
            f"TimescaleDB: {timescale}; measurements is a {layout} (flavour {self.flavor})",
        ]


def machine_facts(database: BenchDatabase) -> MachineFacts:
    """Cores, server version and settings, and the storage flavour the migration chose."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:

        def one(query: str) -> str:
            row = conn.execute(query).fetchone()
            return str(row[0]) if row else "?"

        return MachineFacts(
            cores=os.cpu_count() or 0,
            postgres_version=one("SHOW server_version"),
            timescaledb_available=one(
                "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')"
            )
            == "True",
            flavor=one("SELECT value FROM storage_info WHERE key = 'flavor'"),
            synchronous_commit=one("SHOW synchronous_commit"),
            shared_buffers=one("SHOW shared_buffers"),
        )
