"""Apply the SQL migrations to a database, report their status, and run its maintenance.

The runner connects as the schema owner (locally the ``postgres`` superuser), never as the
roles the services use. It records what it applied in ``schema_migrations``, and the flavour of
the database (TimescaleDB when the server offers the extension, plain PostgreSQL otherwise) with
the first migration; later runs keep that flavour even if the extension appears afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from iot_storage.migration_files import (
    FLAVORS,
    Flavor,
    Migration,
    MigrationError,
    load_migrations,
    split_statements,
)

__all__ = [
    "APP_ROLE",
    "MIGRATION_LOCK_ID",
    "READONLY_ROLE",
    "MigrationError",
    "apply_migrations",
    "ensure_database",
    "grant_database_access",
    "maintain",
    "migrate",
    "status",
]

APP_ROLE = "iot_app"
READONLY_ROLE = "iot_readonly"
# Session advisory lock that serialises migration runners on one database. Arbitrary, but
# distinct from the 74656002 iot_maintain() takes.
MIGRATION_LOCK_ID = 74_656_001
_CONNECT_TIMEOUT_SECONDS = 10

Echo = Callable[[str], None]
Connection = psycopg.Connection[TupleRow]

_CREATE_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        flavor text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


def migrate(
    url: str,
    *,
    create_database: bool = False,
    login_without_password: bool = False,
    app_password: str | None = None,
    readonly_password: str | None = None,
    echo: Echo | None = None,
) -> list[str]:
    """Bring the database at url up to date; return the names of the migrations applied.

    create_database: create the database first if it does not exist.
    app_password, readonly_password: let iot_app / iot_readonly log in with that password.
    login_without_password: let roles without a password given log in; only for local
    development with trust authentication. Roles are cluster-wide, so both change the server.
    echo: receives a line per step.

    Concurrent runs on one database wait for each other, and the later ones apply nothing.
    Raises MigrationError (naming the file) when a migration fails or an applied one changed,
    psycopg.Error when the server cannot be reached or a later step fails.
    """
    say = echo or _quiet
    if create_database and ensure_database(url):
        say(f"created database {conninfo_to_dict(url)['dbname']}")
    with _connect(url) as conn:
        _lock_migrations(conn, say)
        flavor = _flavor(conn)
        applied = apply_migrations(conn, load_migrations(flavor), flavor, echo=say)
        # For the code that reads the database; the first run's value stays.
        conn.execute(
            "INSERT INTO storage_info (key, value) VALUES ('flavor', %s) ON CONFLICT DO NOTHING",
            (flavor,),
        )
        grant_database_access(conn)
        for role, password in ((APP_ROLE, app_password), (READONLY_ROLE, readonly_password)):
            _allow_login(conn, role, password, without_password=login_without_password, say=say)
        say(_maintain(conn))
    return applied


def apply_migrations(
    conn: Connection,
    migrations: Sequence[Migration],
    flavor: Flavor,
    *,
    echo: Echo | None = None,
) -> list[str]:
    """Apply those of migrations that schema_migrations lacks, in order; return their names.

    conn must be in autocommit mode: each migration brings its own transaction. The caller
    keeps other runners away (migrate() holds an advisory lock). First checks that every
    applied migration is still there, unchanged, and raises MigrationError otherwise.
    """
    say = echo or _quiet
    conn.execute(_CREATE_LEDGER)
    applied = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM schema_migrations"
        )
    }
    _check_applied(applied, migrations)
    names = []
    for migration in migrations:
        if migration.version not in applied:
            say(f"applying {migration.name} ({flavor})")
            _apply(conn, migration, flavor)
            names.append(migration.name)
    return names


def ensure_database(url: str) -> bool:
    """Create the database url names, unless it exists; return whether it was created.

    Connects to the ``postgres`` maintenance database of the same server, as the same user.
    """
    name = conninfo_to_dict(url).get("dbname")
    if not name:
        raise MigrationError("the database URL names no database")
    with _connect(make_conninfo(url, dbname="postgres")) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            return False  # another runner created it since we looked
    return True


def grant_database_access(conn: Connection) -> None:
    """Let iot_app and iot_readonly, and no longer PUBLIC, connect to the current database.

    Database privileges are not part of its contents: a database cloned with CREATE DATABASE
    ... TEMPLATE, or restored from a dump, lacks them. So migrate() applies them on every run,
    and whoever clones a migrated database calls this on the clone.
    """
    database = sql.Identifier(conn.info.dbname)
    with conn.transaction():
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(database))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                database, sql.Identifier(APP_ROLE), sql.Identifier(READONLY_ROLE)
            )
        )


def maintain(url: str) -> str:
    """Run iot_maintain() (partitions, retention) and return its summary; iot_app may do it."""
    with _connect(url) as conn:
        return _maintain(conn)


def status(url: str) -> list[tuple[int, str, datetime | None]]:
    """(version, name, applied_at) of every migration applied or pending; pending: None."""
    with _connect(url) as conn:
        flavor = _flavor(conn)
        applied: dict[int, tuple[str, datetime]] = {}
        if _has_ledger(conn):
            applied = {
                version: (name, applied_at)
                for version, name, applied_at in conn.execute(
                    "SELECT version, name, applied_at FROM schema_migrations"
                )
            }
    rows: list[tuple[int, str, datetime | None]] = [
        (version, name, applied_at) for version, (name, applied_at) in applied.items()
    ]
    rows += [(m.version, m.name, None) for m in load_migrations(flavor) if m.version not in applied]
    return sorted(rows, key=lambda row: row[0])


def _connect(conninfo: str) -> Connection:
    return psycopg.connect(
        conninfo,
        autocommit=True,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        application_name="iot-db",
    )


def _lock_migrations(conn: Connection, say: Echo) -> None:
    # A session lock, released when the connection closes, however the run ends.
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK_ID,)).fetchone()
    if not (row and row[0]):
        say("waiting for another migration run on this database to finish")
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))


def _has_ledger(conn: Connection) -> bool:
    row = conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _flavor(conn: Connection) -> Flavor:
    """The flavour the first migration was applied with, else the one the server offers."""
    recorded = None
    if _has_ledger(conn):
        recorded = conn.execute(
            "SELECT flavor FROM schema_migrations ORDER BY version LIMIT 1"
        ).fetchone()
    if recorded is None:
        recorded = conn.execute(
            "SELECT CASE WHEN EXISTS (SELECT FROM pg_available_extensions"
            " WHERE name = 'timescaledb') THEN 'timescaledb' ELSE 'postgresql' END"
        ).fetchone()
    for flavor in FLAVORS:
        if recorded and recorded[0] == flavor:
            return flavor
    raise MigrationError(f"schema_migrations records an unknown flavour: {recorded}")


def _check_applied(applied: dict[int, tuple[str, str]], migrations: Sequence[Migration]) -> None:
    files = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = files.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {name}, which this release does not have;"
                " is the code older than the database?"
            )
        if migration.name != name:
            raise MigrationError(
                f"{migration.path}: version {version:04d} was applied as {name};"
                " an applied migration cannot be renamed"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.path}: changed after it was applied (checksum {checksum[:12]} in"
                f" the database, {migration.checksum[:12]} now); add a new migration instead"
            )


def _apply(conn: Connection, migration: Migration, flavor: Flavor) -> None:
    try:
        if migration.transactional:
            with conn.transaction():
                conn.execute(migration.sql)
                _record(conn, migration, flavor)
        else:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            _record(conn, migration, flavor)
    except psycopg.Error as exc:
        partly = "" if migration.transactional else " (no transaction: earlier statements stay)"
        raise MigrationError(f"{migration.path}: {_one_line(exc)}{partly}") from exc


def _record(conn: Connection, migration: Migration, flavor: Flavor) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, name, flavor, checksum) VALUES (%s, %s, %s, %s)",
        (migration.version, migration.name, flavor, migration.checksum),
    )


def _allow_login(
    conn: Connection, role: str, password: str | None, *, without_password: bool, say: Echo
) -> None:
    if password is not None:
        # Hashed here (SCRAM, or whatever password_encryption says), so the plain password
        # never reaches the server, its statement log or pg_stat_activity.
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier)
            )
        )
        say(f"{role} may log in with its password")
        return
    if not without_password:
        return
    # Altering a role that already may log in would only risk "tuple concurrently updated"
    # against runners migrating other databases of this server at the same moment.
    row = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if not (row and row[0]):
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
        say(f"{role} may log in without a password (trust authentication only)")


def _maintain(conn: Connection) -> str:
    row = conn.execute("SELECT iot_maintain()").fetchone()
    return str(row[0]) if row else ""


def _one_line(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or " ".join(str(exc).split())


def _quiet(_line: str) -> None:
    """The default echo: say nothing."""
