"""iot-db: apply the database migrations, show which are applied, run the maintenance.

Passwords come from the environment only (IOT_DB_APP_PASSWORD, IOT_DB_READONLY_PASSWORD), never
from options, which any user of the machine can read in the process list.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import click
import psycopg
from iot_service.settings import LOCAL_DATABASE_URL

from iot_storage.api_keys import INSERT_KEY, ROLES, generate_key
from iot_storage.migrate import MigrationError, maintain, migrate, status

# Local development only: a deployment sets IOT_MIGRATE_DATABASE_URL through its secrets.
LOCAL_MIGRATE_URL = "postgresql://postgres@127.0.0.1:5432/iot"
_SCHEMA_POLL_SECONDS = 2.0

_admin_url = click.option(
    "--database-url",
    envvar="IOT_MIGRATE_DATABASE_URL",
    default=LOCAL_MIGRATE_URL,
    show_default=True,
    help="URL of the database, as its owner (env: IOT_MIGRATE_DATABASE_URL)",
)


@click.group()
def main() -> None:
    """Manage the telemetry database: schema migrations and maintenance."""


@main.command("migrate")
@_admin_url
@click.option("--create-database", is_flag=True, help="create the database if it does not exist")
@click.option(
    "--login-without-password",
    is_flag=True,
    help="let iot_app and iot_readonly log in without a password (local trust auth only)",
)
def migrate_command(database_url: str, create_database: bool, login_without_password: bool) -> None:
    """Apply the pending migrations, then run the maintenance once."""
    with _one_line_errors():
        applied = migrate(
            database_url,
            create_database=create_database,
            login_without_password=login_without_password,
            # An empty variable (an unset secret in compose, say) means no password.
            app_password=os.environ.get("IOT_DB_APP_PASSWORD") or None,
            readonly_password=os.environ.get("IOT_DB_READONLY_PASSWORD") or None,
            echo=click.echo,
        )
    click.echo(f"{len(applied)} migration(s) applied" if applied else "the schema is up to date")


@main.command("status")
@_admin_url
def status_command(database_url: str) -> None:
    """List every migration with the time it was applied, or 'pending'."""
    with _one_line_errors():
        rows = status(database_url)
    width = max((len(name) for _, name, _ in rows), default=4)
    click.echo(f"{'version':<9}{'name':<{width + 2}}applied at")
    for version, name, applied_at in rows:
        when = applied_at.isoformat(sep=" ", timespec="seconds") if applied_at else "pending"
        click.echo(f"{version:04d}     {name:<{width + 2}}{when}")


@main.command("maintain")
@click.option(
    "--database-url",
    envvar="IOT_DATABASE_URL",
    default=LOCAL_DATABASE_URL,
    show_default=True,
    help="URL of the database; iot_app may run the maintenance (env: IOT_DATABASE_URL)",
)
def maintain_command(database_url: str) -> None:
    """Create upcoming partitions, drop expired data, prune the batch ledger."""
    with _one_line_errors():
        click.echo(maintain(database_url))


@main.command("wait-for-schema")
@click.option(
    "--database-url",
    envvar="IOT_SCHEMA_DATABASE_URL",
    default=LOCAL_DATABASE_URL,
    show_default=True,
    help="URL of the database; iot_readonly may read the ledger (env: IOT_SCHEMA_DATABASE_URL)",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="seconds to wait before giving up with exit code 1",
)
def wait_for_schema_command(database_url: str, timeout: float) -> None:
    """Wait until every migration this installation ships is applied, then exit 0.

    For a service's start-up (a Kubernetes init container): a service must not run on a schema
    the migration job has not finished, and readiness alone cannot tell.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            pending = [
                name for _version, name, applied_at in status(database_url) if not applied_at
            ]
        except (MigrationError, psycopg.Error) as exc:
            # Server down, database or role not created yet: all expected while a cluster boots.
            waiting_for = f"the database ({_one_line(exc)})"
        else:
            if not pending:
                click.echo("the schema is up to date")
                return
            waiting_for = ", ".join(pending)
        if time.monotonic() >= deadline:
            raise click.ClickException(f"gave up after {timeout:g} s waiting for {waiting_for}")
        click.echo(f"waiting for {waiting_for}", err=True)
        time.sleep(_SCHEMA_POLL_SECONDS)


@main.command("create-api-key")
@_admin_url
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.option("--expires-in-days", type=click.IntRange(min=1), help="default: never expires")
def create_api_key_command(
    database_url: str, name: str, role: str, expires_in_days: int | None
) -> None:
    """Create an API key and print it once (the database keeps only its hash).

    Meant for the first admin key; later keys are created through the API.
    """
    expires_at = (
        datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days is not None else None
    )
    new = generate_key()

    async def insert() -> Any:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchrow(
                INSERT_KEY, name, new.prefix, new.secret_hash, role, expires_at
            )
        finally:
            await connection.close()

    with _one_line_errors():
        asyncio.run(insert())
    click.echo(f"created {role} key {new.prefix!r} for {name!r}; it is shown only now:", err=True)
    click.echo(new.key)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    # Expected failures (server unreachable, a migration refused) end the command with one
    # line on stderr and exit code 1, instead of a traceback.
    try:
        yield
    except (MigrationError, psycopg.Error, asyncpg.PostgresError, OSError) as exc:
        raise click.ClickException(_one_line(exc)) from exc


def _one_line(error: BaseException) -> str:
    # Server messages span lines (DETAIL, HINT); a CLI error or a wait note is one line.
    return " ".join(str(error).split())
