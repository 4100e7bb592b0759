"""Append log entries as logfmt lines (time= logger= level= message=) for a log shipper."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from logs_ingester.decode import LogEntry

_BARE = re.compile(r"^[^\s\"=\\]+$")


def _value(text: str) -> str:
    if text and _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def format_line(entry: LogEntry) -> str:
    stamp = datetime.fromtimestamp(entry.time_us / 1e6, tz=UTC).isoformat(timespec="microseconds")
    return (
        f"time={stamp.replace('+00:00', 'Z')} logger={entry.serial} level={entry.level} "
        f"message={_value(entry.message)}\n"
    )


def append_lines(path: Path, entries: Sequence[LogEntry]) -> None:
    """Append and fsync, so the lines are durable before the messages are acked."""
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(format_line(entry) for entry in entries)
        handle.flush()
        os.fsync(handle.fileno())
