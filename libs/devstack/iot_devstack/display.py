"""What `iot-dev up` prints while it runs: rows/s per sensor from two counts of stored rows, as a
plain line per interval or, on a terminal, a small table redrawn in place; and the summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

# ANSI: cursor to the start of the line n lines up, then erase to the end of the screen.
_UP = "\x1b[{}F"
_ERASE_BELOW = "\x1b[J"


@dataclass(frozen=True)
class Snapshot:
    """Counts taken at one moment of the run."""

    at: float  # time.monotonic() when taken
    clock: datetime  # local wall-clock time, for display
    stored: Mapping[str, int] | None  # rows stored this run, per serial; None: database error
    queued: int | None = None  # messages waiting in the measurements queue; None: unknown
    dead_lettered: int | None = None  # messages dead-lettered since the start; None: unknown
    problem: str = ""  # why something is None


def count(value: float | None) -> str:
    """`5,201`, or `?` when unknown."""
    return "?" if value is None else f"{round(value):,}"


def rates(previous: Snapshot, current: Snapshot) -> dict[str, float] | None:
    """Rows stored per second for each serial between two snapshots; None if unknown."""
    elapsed = current.at - previous.at
    if previous.stored is None or current.stored is None or elapsed <= 0:
        return None
    return {
        serial: max(0, rows - previous.stored.get(serial, 0)) / elapsed
        for serial, rows in current.stored.items()
    }


def live_line(serials: Sequence[str], previous: Snapshot, current: Snapshot) -> str:
    """`12:00:01  sim-1hz 1/s  sim-200hz 200/s | total 201/s  stored 2,412  ...` for logs."""
    per_second = rates(previous, current)
    parts = [current.clock.strftime("%H:%M:%S")]
    parts += [f"{serial} {count(_get(per_second, serial))}/s" for serial in serials]
    head = "  ".join(parts)
    total_rate = None if per_second is None else sum(per_second.values())
    total = None if current.stored is None else sum(current.stored.values())
    tail = (
        f"total {count(total_rate)}/s  stored {count(total)}  queued {count(current.queued)}"
        f"  dead-lettered {count(current.dead_lettered)}"
    )
    problem = f"  ({current.problem})" if current.problem else ""
    return f"{head}  | {tail}{problem}"


def live_table(serials: Sequence[str], previous: Snapshot, current: Snapshot) -> list[str]:
    """The same numbers as a table, for a terminal."""
    per_second = rates(previous, current)
    stored = current.stored
    names = [*serials, "total"]
    width = max(len(name) for name in names)
    rows = [
        (serial, count(_get(per_second, serial)), count(_get(stored, serial))) for serial in serials
    ]
    rows.append(
        (
            "total",
            count(None if per_second is None else sum(per_second.values())),
            count(None if stored is None else sum(stored.values())),
        )
    )
    rate_width = max(len("rows/s"), *(len(rate) for _, rate, _ in rows))
    stored_width = max(len("stored"), *(len(total) for _, _, total in rows))
    lines = [
        f"{current.clock.strftime('%H:%M:%S'):<{width}}  {'rows/s':>{rate_width}}"
        f"  {'stored':>{stored_width}}"
    ]
    lines += [
        f"{name:<{width}}  {rate:>{rate_width}}  {total:>{stored_width}}"
        for name, rate, total in rows
    ]
    footer = (
        f"queued {count(current.queued)}  dead-lettered {count(current.dead_lettered)}"
        "  (Ctrl-C stops)"
    )
    lines.append(footer + (f"  {current.problem}" if current.problem else ""))
    return lines


def summary(
    serials: Sequence[str],
    stored: Mapping[str, int] | None,
    streaming_seconds: float,
    total_seconds: float,
    dead_lettered: int | None,
) -> list[str]:
    """The final report: rows stored per sensor during the run, and how long it ran."""
    lines = [
        f"ran {streaming_seconds:.1f} s with every sensor streaming"
        f" ({total_seconds:.1f} s including start and stop)"
    ]
    if stored is None:
        return [*lines, "rows stored: unknown (the database could not be read)"]
    rows = [(serial, stored.get(serial, 0)) for serial in serials]
    rows.append(("total", sum(total for _, total in rows)))
    width = max(len(name) for name, _ in rows)
    count_width = max(len(count(total)) for _, total in rows)
    lines.append("rows stored:")
    lines += [f"  {name:<{width}}  {count(total):>{count_width}}" for name, total in rows]
    lines.append(f"dead-lettered during the run: {count(dead_lettered)}")
    return lines


class Console:
    """Writes messages and the live display; on a terminal the table replaces itself."""

    def __init__(self, stream: TextIO, terminal: bool) -> None:
        self._stream = stream
        self.terminal = terminal
        self._drawn = 0  # lines of the live table currently on screen

    def say(self, text: str) -> None:
        """A message line; a live table above it stays on screen."""
        self._drawn = 0
        self._write(f"iot-dev: {text}\n")

    def show(self, lines: Sequence[str]) -> None:
        """Lines printed as they are (summaries, log tails)."""
        self._drawn = 0
        self._write("".join(f"{line}\n" for line in lines))

    def live(self, serials: Sequence[str], previous: Snapshot, current: Snapshot) -> None:
        if not self.terminal:
            self._write(live_line(serials, previous, current) + "\n")
            return
        table = live_table(serials, previous, current)
        redraw = _UP.format(self._drawn) + _ERASE_BELOW if self._drawn else ""
        self._write(redraw + "".join(f"{line}\n" for line in table))
        self._drawn = len(table)

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def _get(values: Mapping[str, float] | None, key: str) -> float | None:
    return None if values is None else values.get(key, 0)
