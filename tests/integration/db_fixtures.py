"""PostgreSQL fixtures: every test gets a freshly migrated database of its own on the real server.

Migrating takes a while, so the session migrates one template database and each test gets a
copy of it (CREATE DATABASE ... TEMPLATE copies storage, replaying nothing). Every database is
dropped in a finally block, so a failing test leaves nothing behind. The server and superuser
come from IOT_TEST_ADMIN_URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import psycopg
import pytest
from iot_storage.migrate import APP_ROLE, READONLY_ROLE, grant_database_access, migrate
from iot_storage.urls import database_url
from psycopg import sql

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class TestDatabase:
    """A database of one test, and a URL for each role that connects to it."""

    __test__: ClassVar[bool] = False  # a fixture value, not a test class for pytest to collect

    name: str
    admin_url: str  # the owner (postgres), for setting up and inspecting
    app_url: str  # iot_app, as the services connect
    readonly_url: str  # iot_readonly, as dashboards connect


def admin_url() -> str:
    """URL of the server's maintenance database as a superuser; databases are made from it."""
    return os.environ.get("IOT_TEST_ADMIN_URL", LOCAL_ADMIN_URL)


def database_urls(name: str) -> TestDatabase:
    """The URLs of database name on the test server (which need not exist yet)."""
    server = admin_url()
    return TestDatabase(
        name=name,
        admin_url=database_url(server, name),
        app_url=database_url(server, name, APP_ROLE),
        readonly_url=database_url(server, name, READONLY_ROLE),
    )


def drop_database(name: str) -> None:
    """Drop database name if it exists, disconnecting whoever is still connected."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def database_template() -> Iterator[str]:
    """Name of a database migrated once per session, which test databases are copied from."""
    name = f"iot_tpl_{secrets.token_hex(6)}"
    try:
        migrate(database_urls(name).admin_url, create_database=True, login_without_password=True)
        # A database cannot be copied while anyone is connected to it, and on TimescaleDB a
        # background scheduler is: lock the template and disconnect it.
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def database(database_template: str) -> Iterator[TestDatabase]:
    """A migrated database of this test only, dropped afterwards."""
    created = database_urls(f"iot_t_{secrets.token_hex(6)}")
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(created.name), sql.Identifier(database_template)
            )
        )
    try:
        with psycopg.connect(created.admin_url, autocommit=True) as conn:
            # The copy has the template's contents but PostgreSQL's default database privileges.
            grant_database_access(conn)
            # The template may date from yesterday (UTC): bring the daily partitions up to date.
            conn.execute("SELECT iot_maintain()")
        yield created
    finally:
        drop_database(created.name)


@pytest.fixture
def new_database() -> Iterator[TestDatabase]:
    """A database name nobody uses yet: the test creates (and migrates) it; dropped afterwards."""
    created = database_urls(f"iot_t_{secrets.token_hex(6)}")
    try:
        yield created
    finally:
        drop_database(created.name)
