"""Rendering for people (aligned tables, compact UTC times, "12s ago") and for scripts (JSON).

Times stay in UTC (`2026-11-23 10:00:01Z`): operators on several continents read the same
table, and the gateway's logs and the database are in UTC too. `None` shows as `-`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click

NULL = "-"


def print_json(document: Any) -> None:
    """One JSON document on standard output, the API's own fields, in the API's order."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def cell(value: object) -> str:
    """One table cell: `-` for null, yes/no for booleans, numbers without noise."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(value)
    return str(value)


def number(value: float) -> str:
    """200.0 -> "200", 0.1 -> "0.1", 1.23456789 -> "1.23457"."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def short_text(value: object, width: int = 40) -> str | None:
    """Free text (comments) for a table cell: one line, at most `width` characters, or None.

    A newline would break the table's rows and a long text its columns; `-o json` or the
    single-object views show the whole text.
    """
    if value is None:
        return None
    collapsed = " ".join(str(value).split())
    if not collapsed:
        return None
    return collapsed if len(collapsed) <= width else collapsed[: width - 1] + "…"


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, right: Sequence[int] = ()
) -> str:
    """Aligned columns under upper-case headers; `right` lists the right-aligned (numeric) ones."""
    table = [[header.upper() for header in headers]]
    table += [[cell(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in table) for index in range(len(headers))]
    lines = []
    for row in table:
        parts = [
            text.rjust(width) if index in right else text.ljust(width)
            for index, (text, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def render_fields(fields: Sequence[tuple[str, object]]) -> str:
    """A key/value block for one object: `name   value`, names aligned."""
    width = max((len(name) for name, _ in fields), default=0)
    return "\n".join(f"{name.ljust(width)}  {cell(value)}".rstrip() for name, value in fields)


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time from the API as an aware UTC datetime; None if absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the contract says RFC 3339, which always has an offset
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: object, *, digits: int = 0) -> str | None:
    """`2026-11-23 10:00:01Z`, with `digits` (0, 3 or 6) of fractional seconds."""
    parsed = parse_time(value)
    if parsed is None:
        return None if value is None else str(value)
    text = parsed.strftime("%Y-%m-%d %H:%M:%S")
    if digits:
        text += f".{parsed.microsecond:06d}"[: digits + 1]
    return text + "Z"


def format_times(values: Sequence[object]) -> list[str | None]:
    """Format a column of times with one precision: the least that shows every value exactly.

    Samples at 5 kHz are 200 µs apart, so whole seconds would show every row alike; a column of
    once-a-second log lines, on the other hand, should not carry six zeros each.
    """
    digits = 0
    for value in values:
        parsed = parse_time(value)
        if parsed is None or not parsed.microsecond:
            continue
        digits = max(digits, 3 if parsed.microsecond % 1000 == 0 else 6)
    return [format_time(value, digits=digits) for value in values]


def ago(value: object, now: datetime | None = None) -> str | None:
    """How long ago, compactly: `12s ago`, `5m ago`, `3h ago`, `2d ago`."""
    parsed = parse_time(value)
    if parsed is None:
        return None if value is None else str(value)
    seconds = ((now or datetime.now(UTC)) - parsed).total_seconds()
    if seconds < 0:
        # The gateway's clock may run a little ahead of ours.
        return "just now" if seconds > -5 else f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def time_and_ago(value: object, now: datetime | None = None) -> str | None:
    """`2026-11-23 10:00:01Z (12s ago)`."""
    if parse_time(value) is None:
        return format_time(value)
    return f"{format_time(value)} ({ago(value, now)})"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
