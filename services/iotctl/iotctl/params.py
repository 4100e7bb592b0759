"""Option types and checks done before any request: durations, times, selectors, JSON.

Durations are passed to the API as typed (it accepts `90s`, `10m`, `2h`, `1d`); they are only
checked here, so a typo is a usage error naming the option instead of a 422 from the gateway.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import click

# The contract's examples are 90s, 10m, 2h, 1d (and 500ms for buckets); a decimal amount
# ("1.5h") is accepted as the gateway accepts it. Zero is refused: an empty range or bucket.
_DURATION = re.compile(r"(?P<amount>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h|d)")


def is_duration(text: str) -> bool:
    """`90s`, `10m`, `2h`, `1d`, `500ms`, `1.5h`: a positive amount and a unit."""
    match = _DURATION.fullmatch(text)
    return match is not None and float(match["amount"]) > 0


class SinceUntil(click.ParamType[str]):
    """A duration before now (`10m`) or an RFC 3339 time (`2026-11-23T10:00:00Z`), kept as text."""

    name = "DURATION|TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if is_duration(text) or _is_rfc3339(text):
            return text
        self.fail(
            f"{value!r} is neither a duration (90s, 10m, 2h, 1d) "
            "nor an RFC 3339 time (2026-11-23T10:00:00Z)",
            param,
            ctx,
        )


class Deadline(click.ParamType[str]):
    """A duration from now (`60s`, `5m`) or an RFC 3339 time, kept as text for the gateway.

    The gateway checks that it lies in the future and within its maximum; only the spelling
    is checked here.
    """

    name = "DURATION|TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if is_duration(text) or _is_rfc3339(text):
            return text
        self.fail(
            f"{value!r} is neither a duration from now (60s, 5m, 2h) "
            "nor an RFC 3339 time (2026-11-23T10:00:00Z)",
            param,
            ctx,
        )


class JsonObject(click.ParamType[dict[str, Any]]):
    """A JSON object given on the command line: `'{"topic": "demo"}'`."""

    name = "JSON"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, Any]:
        if isinstance(value, dict):  # click may pass a value that is converted already
            return value
        try:
            document = json.loads(str(value), parse_constant=_refuse_constant)
        except ValueError as error:
            self.fail(f"{value!r} is not valid JSON ({error})", param, ctx)
        if not isinstance(document, dict):
            # The session metadata is a set of named fields; a list or a bare string would
            # reach the gateway only to be refused there.
            self.fail(
                f"{value!r} is a JSON {_json_kind(document)}, not an object such as "
                '\'{"topic": "demo"}\'',
                param,
                ctx,
            )
        return document


def _refuse_constant(name: str) -> object:
    # Python's json reads NaN and Infinity, which are not JSON and which the gateway refuses.
    raise ValueError(f"{name} is not a JSON value")


def _json_kind(document: object) -> str:
    if isinstance(document, list):
        return "array"
    if isinstance(document, str):
        return "string"
    if isinstance(document, bool) or document is None:
        return "literal"
    return "number"


class Bucket(click.ParamType[str]):
    """A bucket width for aggregated measurements: `500ms`, `1s`, `5m`, `1h`, `1d`."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if is_duration(text):
            return text
        self.fail(f"{value!r} is not a bucket width such as 500ms, 1s, 5m, 1h or 1d", param, ctx)


class Frequency(click.ParamType[float]):
    """A sample frequency in Hz: a finite number above zero (the gateway enforces the maximum)."""

    name = "HZ"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            hz = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(hz) or hz <= 0:
            self.fail(f"{value!r} is not a frequency above 0 Hz", param, ctx)
        return hz


def _is_rfc3339(text: str) -> bool:
    # RFC 3339 needs a date, a time and an offset; fromisoformat alone would take a bare date.
    if len(text) < 20 or text[10] not in "Tt ":
        return False
    try:
        parsed = datetime.fromisoformat(text.upper().replace(" ", "T", 1))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def selector(serial: str | None, target: str | None, all_sensors: bool) -> dict[str, object]:
    """The command's addressee: exactly one of `-s SN`, `--target T` or `--all`."""
    chosen: dict[str, object] = {}
    if serial is not None:
        chosen["serial_number"] = serial
    if target is not None:
        chosen["target"] = target
    if all_sensors:
        chosen["all"] = True
    if len(chosen) != 1:
        problem = "none was given" if not chosen else "several were given"
        raise click.UsageError(
            f"give exactly one of -s/--serial SN, --target T or --all ({problem})"
        )
    return chosen
