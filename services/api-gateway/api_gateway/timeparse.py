"""Times and durations in requests: RFC 3339 instants, or '10m' meaning ten minutes ago (ten
minutes from now for a deadline)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from api_gateway.errors import InvalidArgumentError

_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d)$")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


def parse_duration(text: str, name: str) -> timedelta:
    """'500ms', '90s', '10m', '2h', '1d' -> timedelta (> 0)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidArgumentError(f"{name}: expected a duration such as 500ms, 90s, 10m, 2h or 1d")
    try:
        duration = float(match["amount"]) * _UNITS[match["unit"]]
    except OverflowError:
        raise InvalidArgumentError(f"{name}: too long") from None
    if duration <= timedelta(0):
        raise InvalidArgumentError(f"{name}: must be longer than zero")
    return duration


def parse_instant(text: str | None, name: str, now: datetime, default: datetime) -> datetime:
    """An RFC 3339 time with an offset, or a duration before now; `default` when absent."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    if _DURATION.match(text):
        return now - parse_duration(text, name)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(
            f"{name}: expected an RFC 3339 time (2026-11-23T10:00:00Z) or a duration (10m)"
        ) from None
    if instant.tzinfo is None:
        raise InvalidArgumentError(f"{name}: the time needs an offset, such as Z or +01:00")
    return instant


def parse_deadline(text: str, name: str, now: datetime, longest: timedelta) -> datetime:
    """An RFC 3339 time with an offset, or a duration from now; after now, at most `longest` on."""
    text = text.strip()
    if _DURATION.match(text):
        ahead = parse_duration(text, name)
    else:
        ahead = parse_instant(text, name, now, now) - now
    if ahead <= timedelta(0):
        raise InvalidArgumentError(f"{name}: must be in the future")
    if ahead > longest:
        raise InvalidArgumentError(f"{name}: at most {describe(longest)} from now")
    return now + ahead


def describe(duration: timedelta) -> str:
    """A compact spelling of a duration for answers ('1s', '500ms', '5m')."""
    milliseconds = round(duration.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"
