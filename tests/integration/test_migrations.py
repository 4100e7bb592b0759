"""Migrations, roles and maintenance against the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from iot_storage.cli import main
from iot_storage.migrate import (
    MIGRATION_LOCK_ID,
    MigrationError,
    apply_migrations,
    ensure_database,
    maintain,
    migrate,
    status,
)
from iot_storage.migration_files import load_migrations, split_statements
from psycopg import errors, sql

from tests.integration.db_fixtures import TestDatabase
from tests.support import wait_until

pytestmark = pytest.mark.integration

# The names are the same in both flavours.
MIGRATIONS = [migration.name for migration in load_migrations("postgresql")]
TIMESTAMPTZ = "timestamp with time zone"
FLOAT = "double precision"
# The columns other code relies on, in order: (name, information_schema data type).
CONTRACT = {
    "schema_migrations": [
        ("version", "integer"),
        ("name", "text"),
        ("flavor", "text"),
        ("checksum", "text"),
        ("applied_at", TIMESTAMPTZ),
    ],
    "storage_info": [("key", "text"), ("value", "text")],
    "retention_policies": [("table_name", "text"), ("keep", "interval")],
    "targets": [
        ("id", "integer"),
        ("name", "text"),
        ("created_at", TIMESTAMPTZ),
        ("latitude", FLOAT),
        ("longitude", FLOAT),
    ],
    "sensors": [
        ("id", "integer"),
        ("serial_number", "text"),
        ("kind", "text"),
        ("sample_frequency_hz", FLOAT),
        ("target_id", "integer"),
        ("firmware_version", "text"),
        ("boot_id", "text"),
        ("booted_at", TIMESTAMPTZ),
        ("self_test", "text"),
        ("registered_at", TIMESTAMPTZ),
        ("metadata_updated_at", TIMESTAMPTZ),
        ("desired_asleep", "boolean"),
        ("desired_sample_frequency_hz", FLOAT),
        ("desired_at", TIMESTAMPTZ),
        ("reported_asleep", "boolean"),
        ("reported_at", TIMESTAMPTZ),
        ("last_heartbeat_at", TIMESTAMPTZ),
        ("heartbeat_interval_s", FLOAT),
    ],
    "commands": [
        ("id", "uuid"),
        ("request_id", "uuid"),
        ("sensor_id", "integer"),
        ("action", "text"),
        ("sample_frequency_hz", FLOAT),
        ("status", "text"),
        ("reason", "text"),
        ("issued_by", "text"),
        ("issued_at", TIMESTAMPTZ),
        ("expires_at", TIMESTAMPTZ),
        ("delivered_at", TIMESTAMPTZ),
        ("completed_at", TIMESTAMPTZ),
        ("acked_at", TIMESTAMPTZ),
        ("reported_asleep", "boolean"),
        ("reported_sample_frequency_hz", FLOAT),
    ],
    "measurements": [("time", TIMESTAMPTZ), ("sensor_id", "integer"), ("value", FLOAT)],
    "measurement_batches": [
        ("sensor_id", "integer"),
        ("sequence", "bigint"),
        ("first_sample_time", TIMESTAMPTZ),
        ("sample_count", "integer"),
        ("sample_rate_hz", FLOAT),
        ("received_at", TIMESTAMPTZ),
    ],
    "sensor_logs": [
        ("time", TIMESTAMPTZ),
        ("sensor_id", "integer"),
        ("sequence", "bigint"),
        ("level", "text"),
        ("message", "text"),
    ],
    "measurements_1m": [
        ("bucket", TIMESTAMPTZ),
        ("sensor_id", "integer"),
        ("min", FLOAT),
        ("max", FLOAT),
        ("avg", FLOAT),
        ("count", "bigint"),
    ],
}
PARTITIONED = ("measurements", "sensor_logs")


def fetch(url: str, query: str | sql.Composed, params: Sequence[Any] = ()) -> list[Any]:
    """Every row of query, each a tuple."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def scalar(url: str, query: str | sql.Composed, params: Sequence[Any] = ()) -> Any:
    """The first column of the single row of query."""
    (row,) = fetch(url, query, params)
    return row[0]


def execute(url: str, query: str | sql.Composed, params: Sequence[Any] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(query, params)


def utc_today(database: TestDatabase) -> date:
    """Today in UTC by the server's clock, which is what iot_maintain() goes by."""
    today: date = scalar(database.admin_url, "SELECT (now() AT TIME ZONE 'UTC')::date")
    return today


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def partitions(database: TestDatabase, parent: str) -> set[str]:
    rows = fetch(
        database.admin_url,
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
        (parent,),
    )
    return {name for (name,) in rows}


def rows_per_partition(database: TestDatabase, parent: str) -> dict[str, int]:
    query = sql.SQL("SELECT tableoid::regclass::text, count(*) FROM {} GROUP BY 1").format(
        sql.Identifier(parent)
    )
    return dict(fetch(database.admin_url, query))


def partitioned_flavor_only(database: TestDatabase) -> None:
    """Skip on TimescaleDB, where hypertable chunks replace the daily partitions."""
    flavor = scalar(database.admin_url, "SELECT value FROM storage_info WHERE key = 'flavor'")
    if flavor != "postgresql":
        pytest.skip("daily partitions exist in the PostgreSQL flavour only")


def test_second_migrate_applies_nothing(new_database: TestDatabase) -> None:
    lines: list[str] = []
    first = migrate(
        new_database.admin_url,
        create_database=True,
        login_without_password=True,
        echo=lines.append,
    )
    second = migrate(new_database.admin_url)

    assert first == MIGRATIONS
    assert second == []
    assert f"created database {new_database.name}" in lines
    assert [row[1] for row in status(new_database.admin_url)] == MIGRATIONS
    recorded = fetch(new_database.admin_url, "SELECT DISTINCT flavor FROM schema_migrations")
    stored = scalar(new_database.admin_url, "SELECT value FROM storage_info WHERE key = 'flavor'")
    assert recorded == [(stored,)]


def test_schema_has_the_contract_columns(database: TestDatabase) -> None:
    for table, columns in CONTRACT.items():
        found = fetch(
            database.admin_url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        assert found == columns, table
    retention = fetch(database.admin_url, "SELECT table_name, keep FROM retention_policies")
    assert dict(retention) == dict.fromkeys(
        ("measurements", "sensor_logs", "measurement_batches"), timedelta(days=30)
    )


def test_maintenance_function_is_a_locked_down_security_definer(database: TestDatabase) -> None:
    definer, config = fetch(
        database.admin_url,
        "SELECT prosecdef, proconfig FROM pg_proc"
        " WHERE oid = 'public.iot_maintain()'::regprocedure",
    )[0]
    may_execute = fetch(
        database.admin_url,
        "SELECT role, has_function_privilege(role, 'public.iot_maintain()', 'EXECUTE')"
        " FROM unnest(ARRAY['public', 'iot_app', 'iot_readonly']) AS role",
    )

    assert definer
    assert "search_path=pg_catalog, public, pg_temp" in config
    assert dict(may_execute) == {"public": False, "iot_app": True, "iot_readonly": False}


@pytest.mark.parametrize(
    ("tampering", "refusal"),
    [
        (
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 2",
            r"0002_registry\.sql: changed after it was applied",
        ),
        (
            "UPDATE schema_migrations SET name = '0002_other' WHERE version = 2",
            r"0002_registry\.sql: version 0002 was applied as 0002_other",
        ),
        (
            "INSERT INTO schema_migrations (version, name, flavor, checksum)"
            " SELECT 9999, '9999_future', flavor, '' FROM schema_migrations LIMIT 1",
            "the database has migration 9999_future",
        ),
    ],
    ids=["edited", "renamed", "unknown"],
)
def test_migrate_refuses_a_history_it_does_not_match(
    database: TestDatabase, tampering: str, refusal: str
) -> None:
    execute(database.admin_url, tampering)

    with pytest.raises(MigrationError, match=refusal):
        migrate(database.admin_url)


def test_concurrent_migrations_apply_each_migration_once(new_database: TestDatabase) -> None:
    url = new_database.admin_url
    ensure_database(url)

    def waiting_runners() -> int:
        count: int = scalar(
            url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid::bigint = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (MIGRATION_LOCK_ID,),
        )
        return count

    with ThreadPoolExecutor(max_workers=2) as pool:
        # Hold the runners' lock until both wait for it, so they really run at the same time.
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
            runs = [pool.submit(migrate, url, login_without_password=True) for _ in range(2)]
            wait_until(lambda: waiting_runners() == 2, 30, "both runners to wait for the lock")
        results = sorted((run.result(timeout=120) for run in runs), key=len)

    assert results == [[], MIGRATIONS]
    assert scalar(url, "SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)


def test_racing_database_creations_create_it_once(new_database: TestDatabase) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        created = sorted(pool.map(ensure_database, [new_database.admin_url] * 2))

    assert created == [False, True]


def test_app_role_writes_and_reads_data_but_cannot_change_the_schema(
    database: TestDatabase,
) -> None:
    moment = datetime.now(UTC)  # one moment: one bucket in measurements_1m
    with psycopg.connect(database.app_url, autocommit=True) as app:
        target = app.execute("INSERT INTO targets (name) VALUES ('bench') RETURNING id").fetchone()
        sensor = app.execute(
            "INSERT INTO sensors (serial_number, sample_frequency_hz, target_id)"
            " VALUES ('sn-app-1', 100, %s) RETURNING id",
            target,
        ).fetchone()
        assert sensor is not None
        app.execute("UPDATE sensors SET firmware_version = '1.2.3' WHERE id = %s", sensor)
        app.execute(
            "INSERT INTO measurement_batches"
            " (sensor_id, sequence, first_sample_time, sample_count, sample_rate_hz)"
            " VALUES (%s, 1, now(), 2, 100)",
            sensor,
        )
        app.execute("INSERT INTO measurements VALUES (%s, %s, 1.5)", (moment, *sensor))
        # The ingester writes measurements with COPY, which needs INSERT only.
        with app.cursor().copy("COPY measurements (time, sensor_id, value) FROM STDIN") as copy:
            copy.write_row((moment, sensor[0], 2.5))
        app.execute(
            "INSERT INTO sensor_logs VALUES (%s, %s, 1, 'info', 'hello')", (moment, *sensor)
        )

        counts = {
            table: app.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            for table in ("measurements", "measurement_batches", "sensor_logs", "measurements_1m")
        }
        assert counts == {
            "measurements": (2,),
            "measurement_batches": (1,),
            "sensor_logs": (1,),
            "measurements_1m": (1,),
        }

        for forbidden in [
            "DROP TABLE measurements",
            "TRUNCATE measurements",
            "ALTER TABLE measurements ADD COLUMN extra integer",
            "CREATE INDEX ON measurements (value)",
            "CREATE TABLE public.intruder (x integer)",
            "UPDATE measurements SET value = 0",
            "DELETE FROM measurement_batches",
            "DELETE FROM sensor_logs",
            # Keys may be revoked, never rewritten (to another role or hash) or erased.
            "UPDATE api_keys SET role = 'admin'",
            "UPDATE api_keys SET secret_hash = secret_hash",
            "DELETE FROM api_keys",
            "UPDATE retention_policies SET keep = '1 day'",
        ]:
            with pytest.raises(errors.InsufficientPrivilege):
                app.execute(forbidden)


# Key hashes are for the gateway only: dashboards never see them.
HIDDEN_FROM_READONLY = ("api_keys",)


def test_readonly_role_reads_every_relation_and_writes_nothing(database: TestDatabase) -> None:
    relations = fetch(
        database.admin_url,
        "SELECT relname FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm')"
        " AND NOT relname = ANY(%s)",
        [list(HIDDEN_FROM_READONLY)],
    )
    with psycopg.connect(database.readonly_url, autocommit=True) as readonly:
        for (relation,) in relations:
            readonly.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(relation)))
        for forbidden in [
            "INSERT INTO measurements VALUES (now(), 1, 1.0)",
            "INSERT INTO targets (name) VALUES ('nope')",
            "DELETE FROM sensors",
            "SELECT iot_maintain()",
            "CREATE TABLE public.intruder (x integer)",
            "SELECT count(*) FROM api_keys",
            "SELECT secret_hash FROM devices",
        ]:
            with pytest.raises(errors.InsufficientPrivilege):
                readonly.execute(forbidden)


def test_only_the_two_roles_may_connect(database: TestDatabase) -> None:
    may_connect = fetch(
        database.admin_url,
        "SELECT role, has_database_privilege(role, current_database(), 'CONNECT')"
        " FROM unnest(ARRAY['public', 'iot_app', 'iot_readonly']) AS role",
    )
    public_may_create = scalar(
        database.admin_url, "SELECT has_schema_privilege('public', 'public', 'CREATE')"
    )

    assert dict(may_connect) == {"public": False, "iot_app": True, "iot_readonly": True}
    assert public_may_create is False


def test_maintain_creates_the_daily_partitions(database: TestDatabase) -> None:
    partitioned_flavor_only(database)
    today = utc_today(database)
    last = f"{today + timedelta(days=3):%Y%m%d}"
    execute(database.admin_url, f"DROP TABLE measurements_p{last}, sensor_logs_p{last}")

    summary = maintain(database.app_url)

    assert summary.startswith("partitions: 2 created (0 rows moved from default)")
    for parent in PARTITIONED:
        expected = {f"{parent}_p{today + timedelta(days=i):%Y%m%d}" for i in range(-1, 4)}
        assert expected | {f"{parent}_default"} <= partitions(database, parent)
    bound = scalar(
        database.admin_url,
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
        " WHERE relname = 'measurements_default'",
    )
    assert bound == "DEFAULT"


def test_maintain_moves_rows_out_of_the_default_partition(database: TestDatabase) -> None:
    partitioned_flavor_only(database)
    day = utc_today(database) + timedelta(days=2)
    execute(database.admin_url, f"DROP TABLE measurements_p{day:%Y%m%d}, sensor_logs_p{day:%Y%m%d}")
    later = midnight(day + timedelta(days=30))  # no partition will cover it
    with psycopg.connect(database.app_url, autocommit=True) as app:
        for minute in range(10):
            app.execute(
                "INSERT INTO measurements VALUES (%s, 1, %s)",
                (midnight(day) + timedelta(minutes=minute), float(minute)),
            )
        app.execute("INSERT INTO measurements VALUES (%s, 1, 0)", (later,))
        for sequence in range(3):
            app.execute(
                "INSERT INTO sensor_logs VALUES (%s, 1, %s, 'info', 'early')",
                (midnight(day) + timedelta(hours=sequence), sequence),
            )
    assert rows_per_partition(database, "measurements") == {"measurements_default": 11}

    summary = maintain(database.app_url)

    assert summary.startswith("partitions: 2 created (13 rows moved from default)")
    assert rows_per_partition(database, "measurements") == {
        f"measurements_p{day:%Y%m%d}": 10,
        "measurements_default": 1,
    }
    assert rows_per_partition(database, "sensor_logs") == {f"sensor_logs_p{day:%Y%m%d}": 3}
    # The new partition took over the parent's unique constraint.
    with pytest.raises(errors.UniqueViolation):
        execute(
            database.app_url,
            "INSERT INTO sensor_logs VALUES (%s, 1, 0, 'info', 'again')",
            (midnight(day),),
        )


def test_maintain_drops_what_is_past_retention(database: TestDatabase) -> None:
    partitioned_flavor_only(database)
    old_day = utc_today(database) - timedelta(days=40)
    set_keep = "UPDATE retention_policies SET keep = %s WHERE table_name = ANY(%s)"
    execute(database.admin_url, set_keep, (timedelta(days=60), list(PARTITIONED)))
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        for parent in PARTITIONED:
            # As iot_maintain() created it 40 days ago.
            admin.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(f"{parent}_p{old_day:%Y%m%d}"),
                    sql.Identifier(parent),
                    sql.Literal(midnight(old_day)),
                    sql.Literal(midnight(old_day + timedelta(days=1))),
                )
            )
        noon = midnight(old_day) + timedelta(hours=12)
        unpartitioned = noon - timedelta(days=5)  # lands in the default partition
        for moment in (noon, noon, unpartitioned, datetime.now(UTC)):
            admin.execute("INSERT INTO measurements VALUES (%s, 1, 1.0)", (moment,))
        for sequence, moment in enumerate((noon, unpartitioned, datetime.now(UTC))):
            admin.execute(
                "INSERT INTO sensor_logs VALUES (%s, 1, %s, 'info', 'x')", (moment, sequence)
            )

    kept = maintain(database.app_url)
    assert " 0 dropped; 0 expired rows" in kept
    assert scalar(database.admin_url, "SELECT count(*) FROM measurements") == 4

    execute(database.admin_url, set_keep, (timedelta(days=30), list(PARTITIONED)))
    dropped = maintain(database.app_url)

    assert " 2 dropped; 2 expired rows deleted from default" in dropped
    remaining = sql.SQL(
        "SELECT count(*), count(*) FILTER (WHERE time > now() - interval '1 day') FROM {}"
    )
    for parent in PARTITIONED:
        assert f"{parent}_p{old_day:%Y%m%d}" not in partitions(database, parent)
        assert fetch(database.admin_url, remaining.format(sql.Identifier(parent))) == [(1, 1)]


def test_maintain_prunes_old_batches(database: TestDatabase) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        sensor = admin.execute(
            "INSERT INTO sensors (serial_number, sample_frequency_hz)"
            " VALUES ('sn-prune-1', 10) RETURNING id"
        ).fetchone()
        assert sensor is not None
        for sequence, age in enumerate((timedelta(days=40), timedelta(days=29), timedelta())):
            admin.execute(
                "INSERT INTO measurement_batches (sensor_id, sequence, first_sample_time,"
                " sample_count, sample_rate_hz, received_at)"
                " VALUES (%s, %s, now(), 10, 10, now() - %s)",
                (sensor[0], sequence, age),
            )

    summary = maintain(database.app_url)

    assert "1 batches pruned" in summary
    remaining = fetch(database.admin_url, "SELECT sequence FROM measurement_batches ORDER BY 1")
    assert remaining == [(1,), (2,)]


def test_concurrent_maintenance_steps_aside(database: TestDatabase) -> None:
    with psycopg.connect(database.app_url) as first:
        first.execute("SELECT iot_maintain()")  # its transaction, and so its lock, stay open
        assert maintain(database.app_url) == "skipped: another iot_maintain() is running"
        first.commit()

    assert not maintain(database.app_url).startswith("skipped")


def test_one_minute_aggregate(database: TestDatabase) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    samples = [
        (minute, 1, 1.0),
        (minute + timedelta(seconds=30), 1, 3.0),
        (minute + timedelta(seconds=59), 1, 8.0),
        (minute + timedelta(minutes=1), 1, 10.0),
        (minute + timedelta(seconds=10), 2, -2.0),
    ]
    with psycopg.connect(database.app_url, autocommit=True) as app:
        app.cursor().executemany("INSERT INTO measurements VALUES (%s, %s, %s)", samples)

    rows = fetch(
        database.readonly_url,
        "SELECT bucket, sensor_id, min, max, avg, count FROM measurements_1m"
        " ORDER BY bucket, sensor_id",
    )

    assert rows == [
        (minute, 1, 1.0, 8.0, 4.0, 3),
        (minute, 2, -2.0, -2.0, -2.0, 1),
        (minute + timedelta(minutes=1), 1, 10.0, 10.0, 10.0, 1),
    ]


def test_status_lists_pending_then_applied_migrations(new_database: TestDatabase) -> None:
    ensure_database(new_database.admin_url)
    before = status(new_database.admin_url)
    migrate(new_database.admin_url)
    after = status(new_database.admin_url)

    assert before == [(int(name[:4]), name, None) for name in MIGRATIONS]
    assert [name for _, name, _ in after] == MIGRATIONS
    assert all(isinstance(applied_at, datetime) for _, _, applied_at in after)


def test_passwords_are_set_hashed(database: TestDatabase) -> None:
    password = 'it\'s "quoted"; DROP ROLE x'
    saved = fetch(
        database.admin_url,
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('iot_app', 'iot_readonly')",
    )
    try:
        migrate(database.admin_url, app_password=password, readonly_password=password)
        hashed = fetch(
            database.admin_url,
            "SELECT rolpassword FROM pg_authid WHERE rolname IN ('iot_app', 'iot_readonly')",
        )
    finally:
        # Roles are shared by every database of the server: put their passwords back.
        with psycopg.connect(database.admin_url, autocommit=True) as admin:
            for role, previous in saved:
                admin.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(previous)
                    )
                )

    assert len(hashed) == 2
    assert all(value.startswith(("SCRAM-SHA-256$", "md5")) for (value,) in hashed)


def test_no_transaction_migration_runs_statement_by_statement(
    new_database: TestDatabase, tmp_path: Path
) -> None:
    (tmp_path / "0001_table.sql").write_text("CREATE TABLE t (a integer);\n")
    (tmp_path / "0002_index.sql").write_text(
        "-- migrate: no-transaction\n"
        "-- CREATE INDEX CONCURRENTLY refuses to run inside a transaction block.\n"
        "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n"
        "COMMENT ON TABLE t IS $$one; two$$;\n"
    )
    migrations = load_migrations("postgresql", tmp_path)
    ensure_database(new_database.admin_url)

    with psycopg.connect(new_database.admin_url, autocommit=True) as conn:
        first = apply_migrations(conn, migrations, "postgresql")
        second = apply_migrations(conn, migrations, "postgresql")

    assert [migration.transactional for migration in migrations] == [True, False]
    assert (first, second) == (["0001_table", "0002_index"], [])
    assert scalar(new_database.admin_url, "SELECT to_regclass('t_a_idx') IS NOT NULL")
    assert scalar(new_database.admin_url, "SELECT obj_description('t'::regclass)") == "one; two"


def test_failed_migration_leaves_no_trace(new_database: TestDatabase, tmp_path: Path) -> None:
    (tmp_path / "0001_fine.sql").write_text("CREATE TABLE fine (a integer);\n")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE half (a integer);\nSELECT no_such_function();\n"
    )
    ensure_database(new_database.admin_url)

    with (
        psycopg.connect(new_database.admin_url, autocommit=True) as conn,
        pytest.raises(MigrationError, match=r"0002_broken\.sql: function no_such_function"),
    ):
        apply_migrations(conn, load_migrations("postgresql", tmp_path), "postgresql")

    assert fetch(new_database.admin_url, "SELECT name FROM schema_migrations") == [("0001_fine",)]
    assert scalar(new_database.admin_url, "SELECT to_regclass('half')") is None


def test_migration_files_pick_the_flavour_and_reject_bad_sets(tmp_path: Path) -> None:
    (tmp_path / "0001_base.sql").write_text("SELECT 1;\n")
    (tmp_path / "0002_series.timescaledb.sql").write_text("SELECT 'timescaledb';\n")
    (tmp_path / "0002_series.postgresql.sql").write_text("SELECT 'postgresql';\n")

    chosen = {flavor: load_migrations(flavor, tmp_path) for flavor in ("timescaledb", "postgresql")}

    assert [m.name for m in chosen["postgresql"]] == ["0001_base", "0002_series"]
    assert chosen["postgresql"][1].path.name == "0002_series.postgresql.sql"
    assert chosen["timescaledb"][1].path.name == "0002_series.timescaledb.sql"
    (tmp_path / "0002_series.postgresql.sql").unlink()
    with pytest.raises(MigrationError, match="migration 0002"):
        load_migrations("postgresql", tmp_path)
    (tmp_path / "0002_series.timescaledb.sql").unlink()
    (tmp_path / "2_typo.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"2_typo\.sql: not a migration file name"):
        load_migrations("postgresql", tmp_path)


def test_split_statements_respects_quotes_comments_and_dollar_bodies() -> None:
    script = (
        "SELECT 1; -- a comment; still a comment\n"
        "/* block; comment */ SELECT ';', \"odd;name\";\n"
        "DO $body$ BEGIN PERFORM 1; END $body$;\n"
        "-- only a comment at the end;\n"
    )

    assert split_statements(script) == [
        "SELECT 1",
        "-- a comment; still a comment\n/* block; comment */ SELECT ';', \"odd;name\"",
        "DO $body$ BEGIN PERFORM 1; END $body$",
    ]


def test_cli_migrates_and_reports(new_database: TestDatabase) -> None:
    runner = CliRunner(env={"IOT_DB_APP_PASSWORD": None, "IOT_DB_READONLY_PASSWORD": None})
    url = ["--database-url", new_database.admin_url]

    migrated = runner.invoke(main, ["migrate", *url, "--create-database"])
    listed = runner.invoke(main, ["status", *url])
    maintained = runner.invoke(main, ["maintain", *url])

    assert (migrated.exit_code, listed.exit_code, maintained.exit_code) == (0, 0, 0)
    assert f"{len(MIGRATIONS)} migration(s) applied" in migrated.stdout
    assert all(name in listed.stdout for name in MIGRATIONS)
    assert "pending" not in listed.stdout
    assert "batches pruned" in maintained.stdout


def test_cli_fails_in_one_line_when_the_server_is_unreachable() -> None:
    result = CliRunner().invoke(
        main, ["migrate", "--database-url", "postgresql://postgres@127.0.0.1:1/iot"]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
