"""Resetting the bench database between runs, so every run starts from empty tables."""

from __future__ import annotations

import psycopg

MEASUREMENT_TABLES = ("measurements", "measurement_batches")


def reset(admin_url: str, *tables: str) -> None:
    """Empty the tables, then CHECKPOINT so the previous run's dirty pages are not written
    during the next one."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)}")
        conn.execute("CHECKPOINT")


def count_rows(admin_url: str, table: str) -> int:
    """Rows in table (exact)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
