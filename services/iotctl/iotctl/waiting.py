"""`--wait`: poll commands until each is final or the time is up, showing progress on stderr.

On a terminal the progress is one line redrawn in place (a spinner with the status counts);
otherwise, for logs and CI, one line per status change. Standard output gets only the final
table or JSON, so `--wait -o json | jq` works either way.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import click

from iotctl.client import ApiClient, api_path
from iotctl.errors import NotAppliedError, UnavailableError, WaitInterruptedError

FINAL = frozenset({"applied", "rejected", "expired", "failed"})
ORDER = ("pending", "delivered", "applied", "rejected", "expired", "failed")
DEFAULT_TIMEOUT_SECONDS = 60.0
# Once a second: a command takes a round trip through the broker and the sensor, and waiting
# on --all polls every sensor's command, so faster polling would mostly load the gateway.
POLL_INTERVAL_SECONDS = 1.0

Command = dict[str, Any]


@dataclass
class WaitResult:
    commands: list[Command]
    timed_out: bool
    last_error: str | None = None


class Progress(Protocol):
    tick_seconds: float

    def update(self, commands: Sequence[Command]) -> None: ...
    def tick(self) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


def wait_for(
    client: ApiClient, commands: Sequence[Command], timeout: float, progress: Progress
) -> WaitResult:
    """Poll every command that is not final until none is left or `timeout` seconds passed.

    A gateway that is briefly unreachable does not end the wait (the commands go on without
    it); the error is shown and, if the wait times out, reported.
    """
    latest = {command["command_id"]: command for command in commands}
    deadline = time.monotonic() + timeout
    last_error: str | None = None
    progress.update(list(latest.values()))
    try:
        while True:
            open_ids = [cid for cid, command in latest.items() if not is_final(command)]
            if not open_ids:
                return WaitResult(list(latest.values()), timed_out=False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return WaitResult(list(latest.values()), timed_out=True, last_error=last_error)
            pause(min(POLL_INTERVAL_SECONDS, remaining), progress)
            for cid in open_ids:
                try:
                    latest[cid] = client.get(api_path("commands", cid))
                except UnavailableError as error:
                    last_error = error.format_message()
                    progress.note(f"{last_error}; still waiting")
                    break
            progress.update(list(latest.values()))
    except KeyboardInterrupt:
        progress.close()
        raise WaitInterruptedError(
            "stopped waiting; the commands go on: "
            + " ".join(f"iotctl commands status {cid}" for cid in list(latest)[:3])
            + (" ..." if len(latest) > 3 else "")
        ) from None
    finally:
        progress.close()


def is_final(command: Command) -> bool:
    return command.get("status") in FINAL


def check_outcome(result: WaitResult, timeout: float) -> None:
    """Raise NotAppliedError unless every command was applied (exit code 5)."""
    commands = result.commands
    if result.timed_out:
        waiting = [command for command in commands if not is_final(command)]
        message = (
            f"timed out after {timeout:g} s with {len(waiting)} of {len(commands)} command(s) "
            f"not final ({summary(waiting, separator=', ')})"
        )
        if result.last_error:
            message += f"; last error: {result.last_error}"
        raise NotAppliedError(message)
    failed = [command for command in commands if command.get("status") != "applied"]
    if failed:
        shown = "; ".join(_describe(command) for command in failed[:5])
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise NotAppliedError(
            f"{len(failed)} of {len(commands)} command(s) did not apply: {shown}{more}"
        )


def summary(commands: Sequence[Command], separator: str = " · ") -> str:
    """Status counts in lifecycle order: `pending 1 · delivered 2 · applied 7`."""
    counts = Counter(str(command.get("status")) for command in commands)
    known = [f"{status} {counts.pop(status)}" for status in ORDER if status in counts]
    return separator.join(known + [f"{status} {n}" for status, n in sorted(counts.items())])


def _describe(command: Command) -> str:
    text = f"{command.get('serial_number')} {command.get('status')}"
    return f"{text} ({command['reason']})" if command.get("reason") else text


class Ticking(Protocol):
    """A progress display that is redrawn while nothing changes (a spinner, a clock)."""

    tick_seconds: float

    def tick(self) -> None: ...


def pause(seconds: float, progress: Ticking) -> None:
    """Sleep between polls, letting the progress display tick meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, progress.tick_seconds))
        progress.tick()


def make_progress(total: int) -> Progress:
    """A spinner on a terminal, status-change lines otherwise."""
    stream = sys.stderr
    if stream.isatty():
        return SpinnerProgress(total, unicode=(stream.encoding or "").lower().startswith("utf"))
    return LineProgress()


class SpinnerProgress:
    """One line on stderr, redrawn in place: `⠹ waiting for 10 commands: applied 7 · ... 3s`."""

    tick_seconds = 0.1

    def __init__(self, total: int, *, unicode: bool) -> None:
        self._frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if unicode else "|/-\\"
        self._separator = " · " if unicode else ", "
        self._total = total
        self._frame = 0
        self._started = time.monotonic()
        self._counts = ""
        self._note = ""
        self._drawn = False

    def update(self, commands: Sequence[Command]) -> None:
        self._counts = summary(commands, self._separator)
        self._draw()

    def tick(self) -> None:
        self._frame = (self._frame + 1) % len(self._frames)
        self._draw()

    def note(self, message: str) -> None:
        self._note = f"  ({message})"
        self._draw()

    def close(self) -> None:
        if self._drawn:
            write_stderr("\r\x1b[K")
            self._drawn = False

    def _draw(self) -> None:
        elapsed = int(time.monotonic() - self._started)
        noun = "command" if self._total == 1 else "commands"
        line = (
            f"{self._frames[self._frame]} waiting for {self._total} {noun}: "
            f"{self._counts}  {elapsed}s{self._note}"
        )
        write_stderr(f"\r{line}\x1b[K")
        self._drawn = True


def write_stderr(text: str) -> None:
    # Straight to the terminal: click.echo would strip the escape that clears the line.
    sys.stderr.write(text)
    sys.stderr.flush()


class StatusChanges:
    """The last status seen per item, to print only what changed: `pending -> delivered`."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def change(self, key: str, status: str) -> str | None:
        """`before -> status`, or just status the first time; None when it did not change."""
        before = self._seen.get(key)
        if before == status:
            return None
        self._seen[key] = status
        return status if before is None else f"{before} -> {status}"


def reason_suffix(item: Mapping[str, Any]) -> str:
    """` (why)` for an item the API gave a reason for, else nothing."""
    return f" ({item['reason']})" if item.get("reason") else ""


class LineOutput:
    """What every line-per-change progress shares: nothing to redraw, notes on stderr."""

    tick_seconds = POLL_INTERVAL_SECONDS

    def tick(self) -> None:
        pass

    def note(self, message: str) -> None:
        click.echo(message, err=True)

    def close(self) -> None:
        pass


class LineProgress(LineOutput):
    """One stderr line per status change: `sim-1hz <command id>: pending -> delivered`."""

    def __init__(self) -> None:
        self._changes = StatusChanges()

    def update(self, commands: Sequence[Command]) -> None:
        for command in commands:
            cid = str(command.get("command_id"))
            change = self._changes.change(cid, str(command.get("status")))
            if change is not None:
                click.echo(
                    f"{command.get('serial_number')} {cid}: {change}{reason_suffix(command)}",
                    err=True,
                )
