"""The TimescaleDB init script and postgresql.conf, against the real PostgreSQL server.

dependencies/timescaledb/initdb/10-iot-roles.sh is what the official image runs on its first
start (compose and Kubernetes). Here it runs with bash and psql against the test server (plain
PostgreSQL, no TimescaleDB), into a database of this module only; then `iot-db migrate` runs as
iot_owner, a role that is not a superuser, exactly as the migration job does. The roles are
cluster-wide with fixed names, so the script is idempotent and this module only drops its own
database (and the scratch role it makes) afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from iot_storage.urls import database_url
from psycopg import errors, sql

from tests.integration.db_fixtures import TestDatabase, admin_url, database_urls, drop_database
from tests.support import REPO

pytestmark = pytest.mark.integration

TIMESCALEDB = REPO / "dependencies" / "timescaledb"
INIT_SCRIPT = TIMESCALEDB / "initdb" / "10-iot-roles.sh"
POSTGRESQL_CONF = TIMESCALEDB / "postgresql.conf"
IOT_DB = Path(sys.executable).with_name("iot-db")
# Settings of extensions the test server does not load; PostgreSQL accepts such placeholders.
EXTENSION_PREFIXES = ("timescaledb.",)
PASSWORDS = {
    "IOT_DB_OWNER_PASSWORD": "owner-test-only",
    "IOT_DB_APP_PASSWORD": "app-test-only",
    "IOT_DB_READONLY_PASSWORD": "readonly-test-only",
    "IOT_DB_MONITOR_PASSWORD": "monitor-test-only",
}


def _libpq_env() -> dict[str, str]:
    """PG* variables pointing psql at the test server as its superuser."""
    server = urlsplit(admin_url())
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(PGHOST=server.hostname or "127.0.0.1", PGPORT=str(server.port or 5432))
    env["PGUSER"] = server.username or "postgres"
    if server.password:
        env["PGPASSWORD"] = server.password
    return env


def run_init_script(database: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = _libpq_env() | PASSWORDS | {"IOT_DB_NAME": database} | overrides
    return subprocess.run(
        ["bash", str(INIT_SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=60
    )


def with_password(url: str, password: str) -> str:
    """url (a role's URL, which database_url makes without password) with the role's password."""
    parts = urlsplit(url)
    return parts._replace(
        netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5432}"
    ).geturl()


def env_without_iot() -> dict[str, str]:
    """This process's environment without any IOT_* variable, for running `iot-db`."""
    return {key: value for key, value in os.environ.items() if not key.startswith("IOT_")}


def wait_for_schema(database: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`iot-db wait-for-schema` as iot_readonly, the way the services' init containers run it."""
    readonly = with_password(
        database_urls(database).readonly_url, PASSWORDS["IOT_DB_READONLY_PASSWORD"]
    )
    return subprocess.run(
        [str(IOT_DB), "wait-for-schema", "--timeout", str(timeout)],
        check=False,
        env=env_without_iot() | {"IOT_SCHEMA_DATABASE_URL": readonly},
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )


@pytest.fixture(scope="module")
def initialised() -> Iterator[str]:
    """A database made by the init script (run twice: it must be idempotent) and migrated."""
    name = f"iot_roles_{secrets.token_hex(5)}"
    try:
        for _ in range(2):
            result = run_init_script(name)
            assert result.returncode == 0, result.stderr
        # Before the migration job ran, a service's init container keeps waiting, then gives up.
        early = wait_for_schema(name, timeout=0)
        assert early.returncode == 1, early.stdout + early.stderr
        assert "waiting for 0001_roles" in early.stderr
        assert "gave up after 0 s" in early.stderr
        migrate_url = with_password(
            database_url(admin_url(), name, "iot_owner"), PASSWORDS["IOT_DB_OWNER_PASSWORD"]
        )
        env = env_without_iot() | PASSWORDS | {"IOT_MIGRATE_DATABASE_URL": migrate_url}
        migrated = subprocess.run(
            [str(IOT_DB), "migrate"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert "migration(s) applied" in migrated.stdout
        yield name
    finally:
        drop_database(name)


def test_init_script_refuses_to_run_without_every_password(new_database: TestDatabase) -> None:
    name = new_database.name
    result = run_init_script(name, IOT_DB_MONITOR_PASSWORD="")
    assert result.returncode != 0
    assert "IOT_DB_MONITOR_PASSWORD" in result.stderr
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert row is None, "the script created the database before checking its environment"


def test_the_owner_owns_the_database_and_the_migrated_schema(initialised: str) -> None:
    with psycopg.connect(database_urls(initialised).admin_url, autocommit=True) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        tables = conn.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        attributes = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'iot_owner'"
        ).fetchone()
    assert owner == ("iot_owner",)
    assert ("measurements", "iot_owner") in tables
    assert {table_owner for _, table_owner in tables} == {"iot_owner"}
    assert attributes == (False, True, False)


def test_readonly_reads_measurements_but_cannot_write(initialised: str) -> None:
    with psycopg.connect(database_urls(initialised).readonly_url) as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (0,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO measurements (time, sensor_id, value) VALUES (now(), 1, 1.0)")


def test_app_inserts_measurements(initialised: str) -> None:
    sample_time = datetime.now(UTC)
    with psycopg.connect(database_urls(initialised).app_url) as conn:
        conn.execute(
            "INSERT INTO measurements (time, sensor_id, value) VALUES (%s, 7, 2.5)",
            (sample_time,),
        )
        conn.commit()
    with psycopg.connect(database_urls(initialised).readonly_url) as conn:
        rows = conn.execute(
            "SELECT sensor_id, value FROM measurements WHERE time = %s", (sample_time,)
        ).fetchall()
    assert rows == [(7, 2.5)]


def test_a_role_without_grants_can_neither_connect_nor_create_in_public(initialised: str) -> None:
    stranger = f"iot_stranger_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(stranger)))
    try:
        # REVOKE CONNECT ... FROM PUBLIC: a role nobody granted CONNECT is turned away.
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(database_url(admin_url(), initialised, stranger)).close()
        with psycopg.connect(database_urls(initialised).admin_url) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(stranger)))
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE public.intruder (id integer)")
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(stranger)))


def test_monitor_sees_other_sessions_queries(initialised: str) -> None:
    marker = f"monitor-marker-{secrets.token_hex(4)}"
    with psycopg.connect(database_urls(initialised).app_url, autocommit=True) as busy:
        busy.execute(sql.SQL("SELECT {}").format(sql.Literal(marker)))
        pid = busy.info.backend_pid
        with psycopg.connect(database_url(admin_url(), initialised, "iot_monitor")) as monitor:
            monitored = monitor.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
        # The negative control: iot_readonly is no member of pg_monitor.
        with psycopg.connect(database_urls(initialised).readonly_url) as other:
            hidden = other.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
    assert monitored is not None and marker in monitored[0]
    assert hidden is not None and marker not in (hidden[0] or "")


# --- postgresql.conf ------------------------------------------------------------------------

_SETTING = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*('(?:[^']|'')*'|[^#\s]+)")
_UNITS = {
    "B": 1,
    "kB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
    "us": 0.001,
    "ms": 1,
    "s": 1000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
}
_BOOLEANS = {"on", "off", "true", "false", "yes", "no", "1", "0"}


def conf_settings(path: Path) -> dict[str, str]:
    """name -> value (unquoted) of every setting in a postgresql.conf file."""
    settings = {}
    for line in path.read_text().splitlines():
        match = _SETTING.match(line)
        if match:
            value = match.group(2)
            if value.startswith("'"):
                value = value[1:-1].replace("''", "'")
            settings[match.group(1)] = value
    return settings


def in_base_units(value: str, base_unit: str | None) -> float:
    """A numeric setting's value in the unit pg_settings reports ('8kB', 'ms', ...)."""
    match = re.fullmatch(r"(-?[0-9.]+)\s*([A-Za-z]*)", value)
    assert match, f"not a number: {value!r}"
    number, unit = float(match.group(1)), match.group(2)
    if not unit or base_unit is None:
        assert not unit, f"{value!r} has a unit, the setting has none"
        return number
    size = re.fullmatch(r"([0-9]*)([A-Za-z]+)", base_unit)
    assert size and unit in _UNITS, f"unknown unit in {value!r}"
    base = int(size.group(1) or 1) * _UNITS[size.group(2)]
    # Memory and time units never mix: a time value for a memory setting is an error.
    assert unit.endswith("B") == size.group(2).endswith("B"), f"{value!r}: wrong kind of unit"
    return number * _UNITS[unit] / base


def test_conf_parser_understands_units_and_quotes(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text("# c\na = 1GB  # memory\nb = 'x, y'\n  c=on\n")
    assert conf_settings(conf) == {"a": "1GB", "b": "x, y", "c": "on"}
    assert in_base_units("1GB", "8kB") == 131072
    assert in_base_units("15min", "s") == 900
    with pytest.raises(AssertionError):
        in_base_units("15min", "kB")


def test_postgresql_conf_names_real_settings_with_acceptable_values() -> None:
    settings = conf_settings(POSTGRESQL_CONF)
    assert "shared_preload_libraries" in settings
    with psycopg.connect(admin_url()) as conn:
        known = {
            # Names are case-insensitive (pg_settings says TimeZone).
            row[0].lower(): row[1:]
            for row in conn.execute(
                "SELECT name, vartype, unit, min_val, max_val, enumvals FROM pg_settings"
            )
        }
    problems = []
    for name, value in settings.items():
        if name.startswith(EXTENSION_PREFIXES):
            continue
        if name.lower() not in known:
            problems.append(f"{name}: no such setting")
            continue
        vartype, unit, min_val, max_val, enumvals = known[name.lower()]
        if vartype == "bool" and value.lower() not in _BOOLEANS:
            problems.append(f"{name}: {value!r} is not a boolean")
        elif vartype == "enum" and value.lower() not in enumvals:
            problems.append(f"{name}: {value!r} is not one of {enumvals}")
        elif vartype in ("integer", "real"):
            number = in_base_units(value, unit)
            if not float(min_val) <= number <= float(max_val):
                problems.append(f"{name}: {value!r} outside [{min_val}, {max_val}] {unit or ''}")
    assert problems == []


def test_the_services_wait_for_schema_passes_once_migrated(initialised: str) -> None:
    result = wait_for_schema(initialised, timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "the schema is up to date"
