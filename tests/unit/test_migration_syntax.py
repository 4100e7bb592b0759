"""Both migration flavours parse with PostgreSQL's own parser and define the same relations.

CI has no TimescaleDB, so its flavour never runs here; this at least proves every statement and
every PL/pgSQL body is valid PostgreSQL syntax, and that readers see the same tables, columns
and aggregate columns whichever flavour a deployment gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pglast
import pytest
from iot_storage.migration_files import FLAVORS, MIGRATIONS_DIR, load_migrations
from pglast import parser

FILES = sorted(MIGRATIONS_DIR.glob("*.sql"))


def _is_plpgsql(statement: str) -> bool:
    lowered = statement.lower()
    return "language plpgsql" in lowered or lowered.lstrip().startswith("do ")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_statement_and_plpgsql_body_parses(path: Path) -> None:
    text = path.read_text()
    assert pglast.parse_sql(text)
    for statement in parser.split(text):
        if _is_plpgsql(statement):
            pglast.parse_plpgsql(statement)


def _type_name(column: Any) -> str:
    return ".".join(str(part.sval) for part in column.typeName.names).removeprefix("pg_catalog.")


def _output_name(target: Any) -> str:
    """A select item's column name: its alias, or the column it names."""
    if target.name:
        return str(target.name)
    return str(target.val.fields[-1].sval)


def _relations(flavor: str) -> dict[str, list[tuple[str, str]] | list[str]]:
    """Tables -> [(column, type)] and views -> [output column] over all of a flavour's files."""
    found: dict[str, list[tuple[str, str]] | list[str]] = {}
    for migration in load_migrations(flavor):  # type: ignore[arg-type]
        for raw in pglast.parse_sql(migration.sql):
            # Untyped on purpose: pglast's node attributes are all Optional.
            node: Any = raw.stmt
            kind = type(node).__name__
            # Partitions (PARTITION OF) are storage, not relations readers query.
            if kind == "CreateStmt" and node.partbound is None:
                found[node.relation.relname] = [
                    (element.colname, _type_name(element))
                    for element in node.tableElts
                    if type(element).__name__ == "ColumnDef"
                ]
            elif kind == "ViewStmt":
                found[node.view.relname] = [_output_name(t) for t in node.query.targetList]
            elif kind == "CreateTableAsStmt":
                found[node.into.rel.relname] = [_output_name(t) for t in node.query.targetList]
    return found


def test_both_flavours_define_the_same_relations_and_columns() -> None:
    plain, timescale = (_relations(flavor) for flavor in sorted(FLAVORS))
    assert plain == timescale
    assert plain["measurements"] == [
        ("time", "timestamptz"),
        ("sensor_id", "int4"),
        ("value", "float8"),
    ]
    assert plain["measurements_1m"] == ["bucket", "sensor_id", "min", "max", "avg", "count"]
