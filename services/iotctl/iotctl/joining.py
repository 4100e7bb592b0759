"""`join --wait`: poll a join request until every targeted device answered or the request closed.

On a terminal, standard error shows one line redrawn in place: a bar of the devices that
answered (joined or failed) out of those targeted, the counts and the time left until the
deadline. Otherwise, for logs and CI, one line per change. Standard output gets only the final
table or JSON, so `join --wait -o json | jq` works either way.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import click

from iotctl import output
from iotctl.client import ApiClient, api_path, expect_object
from iotctl.errors import NotAppliedError, UnavailableError, WaitInterruptedError
from iotctl.waiting import LineOutput, StatusChanges, pause, reason_suffix, write_stderr

# The request's own states: it is final once closed (the deadline passed) or failed (the
# broker never took it, so no device was asked).
FINAL_REQUEST = frozenset({"closed", "failed"})
# A device has answered once it reports its outcome; `expired` is the platform's verdict.
ANSWERED = frozenset({"joined", "failed"})
COUNTS = ("targeted", "pending", "delivered", "joined", "failed", "expired")
SUMMARY_ORDER = ("joined", "failed", "expired", "delivered", "pending")
# Once a second, as for commands: an answer takes a round trip through the broker and the
# device, and the progress is for people.
POLL_INTERVAL_SECONDS = 1.0
# The join-dispatcher closes requests with a periodic sweep, a few seconds after their deadline.
# A request still open this long after it means the dispatcher is not running: stop waiting.
# (The deadline is the gateway's clock against ours; NTP keeps them far closer than this.)
CLOSE_GRACE_SECONDS = 30.0
# Used only if the gateway's answer carries no readable deadline: the API's default.
FALLBACK_DEADLINE = timedelta(seconds=60)

JoinRequest = dict[str, Any]


@dataclass
class JoinWaitResult:
    request_id: str
    request: JoinRequest | None  # None: the gateway never answered a poll
    timed_out: bool
    last_error: str | None = None


class JoinProgress(Protocol):
    tick_seconds: float

    def update(self, request: JoinRequest) -> None: ...
    def tick(self) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


def counts(request: JoinRequest) -> dict[str, int]:
    """The request's `counts`, every one present (0 if the gateway left it out)."""
    raw = request.get("counts")
    given = raw if isinstance(raw, dict) else {}
    return {name: _int(given.get(name)) for name in COUNTS}


def answered(request: JoinRequest) -> int:
    """Devices that reported their outcome: joined plus failed."""
    numbers = counts(request)
    return numbers["joined"] + numbers["failed"]


def is_settled(request: JoinRequest) -> bool:
    """Nothing more to wait for: the request is final, or every targeted device answered.

    A `pending` request is never settled: the dispatcher has not published every JOIN yet,
    and a redelivered request may still add a device registered meanwhile.
    """
    status = request.get("status")
    if status in FINAL_REQUEST:
        return True
    return status == "dispatched" and answered(request) >= counts(request)["targeted"]


def devices(request: JoinRequest) -> list[dict[str, Any]]:
    found = request.get("devices")
    if not isinstance(found, list):
        return []
    return [device for device in found if isinstance(device, dict)]


def wait_for_join(
    client: ApiClient,
    request_id: str,
    deadline: object,
    progress: JoinProgress,
    latest: JoinRequest | None = None,
) -> JoinWaitResult:
    """Poll `GET /join-requests/{id}` until it is settled or its deadline is well past.

    `latest` is the request as already fetched, if it was. A gateway that is briefly
    unreachable does not end the wait (the devices answer without it); the error is shown
    and, if the wait ends without an answer, reported.
    """
    path = api_path("join-requests", request_id)
    last_error: str | None = None
    poll_now = latest is None  # at least one poll, however late it is
    if latest is not None:
        progress.update(latest)
    try:
        while True:
            if poll_now:
                try:
                    latest = expect_object(client.get(path), "the join request")
                    progress.update(latest)
                except UnavailableError as error:
                    last_error = error.format_message()
                    progress.note(f"{last_error}; still waiting")
            poll_now = True
            if latest is not None and is_settled(latest):
                return JoinWaitResult(request_id, latest, timed_out=False)
            give_up_at = _give_up_at(latest.get("deadline") if latest else deadline)
            remaining = (give_up_at - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                return JoinWaitResult(request_id, latest, timed_out=True, last_error=last_error)
            pause(min(POLL_INTERVAL_SECONDS, remaining), progress)
    except KeyboardInterrupt:
        raise WaitInterruptedError(
            f"stopped waiting; the join request goes on: "
            f"iotctl join-requests get {request_id} --wait"
        ) from None
    finally:
        progress.close()


def check_outcome(result: JoinWaitResult) -> None:
    """Raise NotAppliedError (exit 5) unless every targeted device joined."""
    request = result.request
    if request is None:
        raise NotAppliedError(
            f"no answer from the gateway about join request {result.request_id} "
            f"until {CLOSE_GRACE_SECONDS:g} s after its deadline"
            + (f"; last error: {result.last_error}" if result.last_error else "")
        )
    status = request.get("status")
    if status == "failed":
        reason = f" ({request['reason']})" if request.get("reason") else ""
        raise NotAppliedError(f"the join request failed{reason}; no device was asked to join")
    numbers = counts(request)
    if result.timed_out:
        open_devices = [device for device in devices(request) if not _is_final(device)]
        message = (
            f"the join request is still {status} {CLOSE_GRACE_SECONDS:g} s after its deadline "
            f"(is the join-dispatcher running?); {answered(request)} of {numbers['targeted']} "
            "device(s) answered"
        )
        if open_devices:
            message += f"; waiting for {_list(open_devices)}"
        if result.last_error:
            message += f"; last error: {result.last_error}"
        raise NotAppliedError(message)
    missing = [device for device in devices(request) if device.get("status") != "joined"]
    if missing or numbers["joined"] < numbers["targeted"]:
        count = max(len(missing), numbers["targeted"] - numbers["joined"])
        named = f": {_list(missing)}" if missing else ""
        raise NotAppliedError(f"{count} of {numbers['targeted']} device(s) did not join{named}")


def device_table(request: JoinRequest) -> str:
    """DEVICE, NAME, STATUS, REASON, ANSWERED AT: one row per targeted device."""
    rows = devices(request)
    times = output.format_times([device.get("answered_at") for device in rows])
    return output.render_table(
        ["device", "name", "status", "reason", "answered at"],
        [
            [
                device.get("device_id"),
                device.get("name"),
                device.get("status"),
                output.short_text(device.get("reason"), width=60),
                when,
            ]
            for device, when in zip(rows, times, strict=True)
        ],
    )


def summary(request: JoinRequest, separator: str = " · ") -> str:
    """`joined 2 · failed 0 · expired 0 · delivered 1 · pending 0`: outcomes first."""
    numbers = counts(request)
    return separator.join(f"{name} {numbers[name]}" for name in SUMMARY_ORDER)


def _list(found: Sequence[dict[str, Any]], shown: int = 5) -> str:
    """`cam-2 failed (no camera); cam-3 expired; and 4 more`."""
    described = "; ".join(_describe(device) for device in found[:shown])
    return described + (f"; and {len(found) - shown} more" if len(found) > shown else "")


def _describe(device: dict[str, Any]) -> str:
    text = f"{device.get('name') or device.get('device_id')} {device.get('status')}"
    return f"{text} ({device['reason']})" if device.get("reason") else text


def _is_final(device: dict[str, Any]) -> bool:
    return device.get("status") in ANSWERED or device.get("status") == "expired"


def _give_up_at(deadline: object) -> datetime:
    parsed = output.parse_time(deadline) or datetime.now(UTC) + FALLBACK_DEADLINE
    return parsed + timedelta(seconds=CLOSE_GRACE_SECONDS)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def make_progress() -> JoinProgress:
    """A redrawn bar on a terminal, change lines otherwise."""
    stream = sys.stderr
    if stream.isatty():
        return BarProgress(unicode=(stream.encoding or "").lower().startswith("utf"))
    return LineProgress()


class BarProgress:
    """One stderr line, redrawn: `⠹ [██████░░░░] 2/3 answered, 41s left · joined 2 · ...`."""

    tick_seconds = 0.1
    width = 20

    def __init__(self, *, unicode: bool) -> None:
        self._frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if unicode else "|/-\\"
        self._full, self._empty = ("█", "░") if unicode else ("#", "-")
        self._separator = " · " if unicode else ", "
        self._frame = 0
        self._request: JoinRequest | None = None
        self._note = ""
        self._drawn = False

    def update(self, request: JoinRequest) -> None:
        self._request = request
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

    def line(self, now: datetime | None = None) -> str:
        """The line as drawn now (without the terminal's control characters)."""
        frame = self._frames[self._frame]
        request = self._request
        if request is None:
            return f"{frame} waiting for the gateway{self._note}"
        left = _time_left(request.get("deadline"), now or datetime.now(UTC))
        targeted = counts(request)["targeted"]
        # The dispatcher records the targets before it publishes, so a pending request may
        # already have some (and answers); without any, there is nothing to draw a bar of.
        if request.get("status") == "pending" and not targeted:
            return f"{frame} waiting for the join-dispatcher, {left}{self._note}"
        done = answered(request)
        filled = self.width if not targeted else min(self.width, self.width * done // targeted)
        bar = self._full * filled + self._empty * (self.width - filled)
        return (
            f"{frame} [{bar}] {done}/{targeted} answered, {left}{self._separator}"
            f"{summary(request, self._separator)}{self._note}"
        )

    def _draw(self) -> None:
        # A line longer than the terminal wraps, and `\r` would then redraw only its last row.
        columns = shutil.get_terminal_size(fallback=(80, 24)).columns
        write_stderr(f"\r{self.line()[: max(columns - 1, 10)]}\x1b[K")
        self._drawn = True


def _time_left(deadline: object, now: datetime) -> str:
    parsed = output.parse_time(deadline)
    if parsed is None:
        return "deadline unknown"
    seconds = int((parsed - now).total_seconds())
    return f"{seconds}s left" if seconds > 0 else "deadline passed"


class LineProgress(LineOutput):
    """One stderr line per change of the request or of a device.

    `join request <id>: pending -> dispatched, 3 device(s) targeted`, then
    `cam-1 dev-...: delivered -> joined  [1/3 answered]`.
    """

    def __init__(self) -> None:
        self._request = StatusChanges()
        self._devices = StatusChanges()

    def update(self, request: JoinRequest) -> None:
        status = str(request.get("status"))
        numbers = counts(request)
        change = self._request.change("request", status)
        if change is not None:
            if numbers["targeted"] or status != "pending":  # known once the dispatcher saw it
                change += f", {numbers['targeted']} device(s) targeted"
            click.echo(f"join request {request.get('join_request_id')}: {change}", err=True)
        progress = f"[{answered(request)}/{numbers['targeted']} answered]"
        for device in devices(request):
            device_id = str(device.get("device_id"))
            change = self._devices.change(device_id, str(device.get("status")))
            if change is not None:
                click.echo(
                    f"{device.get('name')} {device_id}: {change}{reason_suffix(device)}"
                    f"  {progress}",
                    err=True,
                )
