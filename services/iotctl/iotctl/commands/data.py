"""`measurements` and `logs`: a sensor's telemetry, as a table or JSON, and `logs --follow`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import click

from iotctl import output
from iotctl.client import ApiClient, api_path, expect_list, expect_object
from iotctl.errors import UnavailableError, warn
from iotctl.params import Bucket, SinceUntil
from iotctl.state import State, output_option, pass_state

LEVELS = ("debug", "info", "warning", "error")
LOG_PAGE = 1000  # the gateway's default page of log lines
FOLLOW_POLL_SECONDS = 1.0
# Each poll asks again for the last few seconds: a line may be stored a little after a later
# one (ingestion is batched); lines seen already are recognised by (time, sequence).
FOLLOW_LOOKBACK = timedelta(seconds=5)


@click.command("measurements")
@click.argument("serial")
@click.option(
    "--since",
    type=SinceUntil(),
    default="10m",
    show_default=True,
    help="Start: a duration before now (90s, 10m, 2h, 1d) or an RFC 3339 time.",
)
@click.option("--until", type=SinceUntil(), help="End, like --since [default: now].")
@click.option(
    "--bucket", type=Bucket(), help="Aggregate per bucket (500ms, 1s, 5m, 1h): min/max/avg/count."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    help="At most this many raw samples [gateway default: 10000].",
)
@output_option
@pass_state
def measurements(  # noqa: PLR0917 (click passes every option as an argument)
    state: State,
    serial: str,
    since: str,
    until: str | None,
    bucket: str | None,
    limit: int | None,
) -> None:
    """Show a sensor's samples or bucket aggregates.

    Oldest first; with --bucket, one row per bucket with min, max, avg and count.
    """
    params = {"since": since, "until": until, "bucket": bucket, "limit": limit}
    answer = expect_object(
        state.client().get(api_path("sensors", serial, "measurements"), params),
        "the measurements",
    )
    if state.json:
        output.print_json(answer)
        return
    if answer.get("bucket"):
        rows = expect_list(answer, "buckets", "the measurements")
        headers = ["time", "min", "max", "avg", "count"]
        keys = ["min", "max", "avg", "count"]
    else:
        rows = expect_list(answer, "samples", "the measurements")
        headers, keys = ["time", "value"], ["value"]
    if not rows:
        since_text = output.format_time(answer.get("since")) or since
        until_text = output.format_time(answer.get("until")) or until or "now"
        click.echo(f"No measurements of {serial} between {since_text} and {until_text}.", err=True)
        return
    times = output.format_times([row.get("time") for row in rows])
    click.echo(
        output.render_table(
            headers,
            [
                [when, *(row.get(key) for key in keys)]
                for when, row in zip(times, rows, strict=True)
            ],
            right=range(1, len(headers)),
        )
    )
    if answer.get("truncated"):
        warn(
            f"truncated after {len(rows)} rows: more exist in this range; narrow --since/--until, "
            "raise --limit (at most 100000) or use --bucket"
        )


@click.command("logs")
@click.argument("serial")
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    help="The lowest level shown (debug < info < warning < error).",
)
@click.option(
    "--since",
    type=SinceUntil(),
    help="Start: a duration before now (90s, 10m, 2h, 1d) or an RFC 3339 time [gateway default].",
)
@click.option("--until", type=SinceUntil(), help="End, like --since [default: now].")
@click.option(
    "--limit", type=click.IntRange(min=1), help=f"At most this many lines [default: {LOG_PAGE}]."
)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep polling every second for new lines until Ctrl-C (JSON output: one line each).",
)
@output_option
@pass_state
def logs(  # noqa: PLR0917 (click passes every option as an argument)
    state: State,
    serial: str,
    level: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    follow: bool,
) -> None:
    """Show a sensor's log lines; -f follows them.

    Oldest first, one line each: time (UTC), level, message.
    """
    if follow and until is not None:
        raise click.UsageError("--follow and --until do not go together")
    client = state.client()
    if follow:
        _follow(client, state, serial=serial, level=level, since=since, page=limit or LOG_PAGE)
        return
    params = {"level": level, "since": since, "until": until, "limit": limit}
    answer = expect_object(client.get(api_path("sensors", serial, "logs"), params), "the logs")
    lines = expect_list(answer, "logs", "the logs")
    if state.json:
        output.print_json(answer)
        return
    if not lines:
        click.echo(f"No log lines from {serial} in that range.", err=True)
    for line in lines:
        click.echo(log_line(line))
    if len(lines) >= (limit or LOG_PAGE):
        warn(f"showing the first {len(lines)} lines (the limit); use --since or --limit for more")


def log_line(line: dict[str, Any]) -> str:
    """`2026-11-23 10:00:01.250Z  warning  Battery low`: fixed-width time and level."""
    when = output.format_time(line.get("time"), digits=3) or "-"
    level = str(line.get("level") or "-")
    return f"{when}  {level:<7}  {line.get('message', '')}"


def _sleep(seconds: float) -> None:
    # One place to stub out in tests, which stop a --follow after a few polls.
    time.sleep(seconds)


def _follow(
    client: ApiClient,
    state: State,
    *,
    serial: str,
    level: str | None,
    since: str | None,
    page: int,
) -> None:
    """Poll until Ctrl-C, printing each (time, sequence) once; Ctrl-C ends it with exit 0."""
    seen: dict[tuple[object, object], datetime | None] = {}
    cursor: datetime | None = None  # never moves back, so a pruned line is never asked for again
    outage = False
    try:
        while True:
            params = {
                "level": level,
                "since": _rfc3339(cursor) if cursor else since,
                "limit": page,
            }
            try:
                answer = expect_object(
                    client.get(api_path("sensors", serial, "logs"), params), "the logs"
                )
            except UnavailableError as error:
                # The lines wait in the database; a gateway restart need not end the follow.
                if not outage:
                    warn(f"{error.format_message()}; retrying every second")
                outage = True
                _sleep(FOLLOW_POLL_SECONDS)
                continue
            if outage:
                warn("the gateway answers again")
                outage = False
            lines = expect_list(answer, "logs", "the logs")
            _print_new(lines, seen, state.json)
            full = len(lines) >= page
            newest = max(
                (when for line in lines if (when := output.parse_time(line.get("time")))),
                default=None,
            )
            if newest is not None:
                # A full page means more lines are waiting: ask again from its end, at once.
                candidate = newest if full else newest - FOLLOW_LOOKBACK
                if cursor is None or candidate > cursor:
                    cursor = candidate
                    for key, when in list(seen.items()):
                        if when is not None and when < cursor:
                            del seen[key]
            if not full:
                _sleep(FOLLOW_POLL_SECONDS)
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: not an error. The newline ends the terminal's "^C".
        click.echo(err=True)


def _print_new(
    lines: Sequence[dict[str, Any]],
    seen: dict[tuple[object, object], datetime | None],
    as_json: bool,
) -> None:
    for line in lines:
        when = output.parse_time(line.get("time"))
        key = (when or line.get("time"), line.get("sequence"))
        if key in seen:
            continue
        seen[key] = when
        # JSON Lines: a follow never ends, so it cannot be one document.
        click.echo(json.dumps(line, ensure_ascii=False) if as_json else log_line(line))


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
