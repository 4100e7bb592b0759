"""The SQL migration files: how they are named, which one a database gets, and how a migration
that must run outside a transaction is split into statements.

A migration is ``NNNN_name.sql``, the same for both flavours of database, or the pair
``NNNN_name.timescaledb.sql`` + ``NNNN_name.postgresql.sql``, of which a database gets the one
for its flavour. Either way it is recorded as ``NNNN_name``. A file whose first line is
``-- migrate: no-transaction`` runs statement by statement outside a transaction, for the
statements PostgreSQL or TimescaleDB refuse inside one (CREATE INDEX CONCURRENTLY, ...).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

Flavor = Literal["timescaledb", "postgresql"]
FLAVORS: tuple[Flavor, ...] = get_args(Flavor)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
NO_TRANSACTION = "-- migrate: no-transaction"

_FILE_NAME = re.compile(
    r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<flavor>timescaledb|postgresql))?\.sql"
)

# What can hold a ';' that does not end a statement: comments, strings, quoted identifiers and
# dollar-quoted bodies ($$...$$, $fn$...$fn$). Not handled, and not used in migrations: nested
# block comments and E'...' strings with backslash-escaped quotes.
_SQL_TOKEN = re.compile(
    r"""
      --[^\n]*
    | /\*.*?\*/
    | '(?:[^']|'')*'
    | "(?:[^"]|"")*"
    | \$(?P<tag>(?:[A-Za-z_][A-Za-z0-9_]*)?)\$.*?\$(?P=tag)\$
    | ;
    """,
    re.DOTALL | re.VERBOSE,
)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


class MigrationError(Exception):
    """The migrations cannot be applied; the message names the file and the reason."""


@dataclass(frozen=True)
class Migration:
    """One migration, as chosen for a flavour of database."""

    version: int
    name: str  # "0003_timeseries": what schema_migrations records, whatever the flavour
    path: Path
    sql: str
    checksum: str  # SHA-256 of the text, so an edit after it was applied is noticed
    transactional: bool


def load_migrations(flavor: Flavor, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration in directory, in version order, with the file for flavor.

    Raises MigrationError for a file that is not named like a migration, and for a version
    whose files are not exactly one shared file or one file per flavour.
    """
    files: dict[int, list[tuple[str, str | None, Path]]] = defaultdict(list)
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(
                f"{path}: not a migration file name (NNNN_name.sql or NNNN_name.<flavor>.sql)"
            )
        files[int(match["version"])].append((match["name"], match["flavor"], path))
    return [_choose(version, files[version], flavor) for version in sorted(files)]


def _choose(version: int, files: list[tuple[str, str | None, Path]], flavor: Flavor) -> Migration:
    paths = ", ".join(path.name for _, _, path in files)
    names = {name for name, _, _ in files}
    flavors = sorted(file_flavor or "" for _, file_flavor, _ in files)
    if len(names) != 1 or flavors not in ([""], sorted(FLAVORS)):
        raise MigrationError(
            f"migration {version:04d} ({paths}): give one NNNN_name.sql, or one file per flavour"
            f" ({', '.join(FLAVORS)}) with the same name"
        )
    path = next(path for _, file_flavor, path in files if file_flavor in (None, flavor))
    # Normalised line endings: a checkout on Windows must not look like an edited migration.
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    first_line = text.split("\n", 1)[0].strip()
    return Migration(
        version=version,
        name=f"{version:04d}_{names.pop()}",
        path=path,
        sql=text,
        checksum=hashlib.sha256(text.encode()).hexdigest(),
        transactional=first_line != NO_TRANSACTION,
    )


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, without their ';', skipping empty or comment-only ones.

    Needed for no-transaction migrations: several statements sent in one query string run in
    one implicit transaction, which is what those statements refuse.
    """
    statements: list[str] = []
    start = 0
    for token in _SQL_TOKEN.finditer(text):
        if token.group() == ";":
            statements.append(text[start : token.start()])
            start = token.end()
    statements.append(text[start:])
    return [statement.strip() for statement in statements if _COMMENT.sub("", statement).strip()]
