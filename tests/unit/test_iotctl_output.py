"""iotctl's pure helpers: tables, times, numbers, error details, option types."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import httpx
import pytest
from iotctl import output, params
from iotctl.client import error_detail, render_detail
from iotctl.state import normalize_url
from iotctl.waiting import summary

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def test_table_aligns_columns_and_shows_null_as_dash() -> None:
    table = output.render_table(
        ["serial", "hz", "in sync"], [["a", 200.0, True], ["long-serial", None, False]], right=[1]
    )

    assert table.splitlines() == [
        "SERIAL        HZ  IN SYNC",
        "a            200  yes",
        "long-serial    -  no",
    ]


def test_fields_align_names() -> None:
    assert output.render_fields([("a", 1), ("longer", None)]) == "a       1\nlonger  -"


@pytest.mark.parametrize(
    ("value", "text"),
    [(200.0, "200"), (0.1, "0.1"), (12.5, "12.5"), (1.23456789, "1.23457"), (7, "7")],
)
def test_numbers_without_noise(value: float, text: str) -> None:
    assert output.number(value) == text


def test_times_are_compact_utc() -> None:
    assert output.format_time("2026-11-23T10:00:01Z") == "2026-11-23 10:00:01Z"
    assert output.format_time("2026-11-23T11:00:01+01:00") == "2026-11-23 10:00:01Z"
    assert output.format_time("2026-11-23T10:00:01.5Z", digits=3) == "2026-11-23 10:00:01.500Z"
    assert output.format_time(None) is None
    assert output.format_time("garbage") == "garbage"


def test_a_time_column_gets_the_precision_its_values_need() -> None:
    assert output.format_times(["2026-11-23T10:00:01Z", "2026-11-23T10:00:02Z"]) == [
        "2026-11-23 10:00:01Z",
        "2026-11-23 10:00:02Z",
    ]
    assert output.format_times(["2026-11-23T10:00:01Z", "2026-11-23T10:00:01.25Z"]) == [
        "2026-11-23 10:00:01.000Z",
        "2026-11-23 10:00:01.250Z",
    ]
    assert output.format_times(["2026-11-23T10:00:01.0002Z", None])[0] == (
        "2026-11-23 10:00:01.000200Z"
    )


@pytest.mark.parametrize(
    ("seen", "text"),
    [
        ("2026-11-23T09:59:48Z", "12s ago"),
        ("2026-11-23T09:55:00Z", "5m ago"),
        ("2026-11-23T07:00:00Z", "3h ago"),
        ("2026-11-21T10:00:00Z", "2d ago"),
        ("2026-11-23T10:00:02Z", "just now"),  # a gateway clock slightly ahead
        ("2026-11-23T10:01:00Z", "in 1m"),
        (None, None),
    ],
)
def test_ago(seen: str | None, text: str | None) -> None:
    assert output.ago(seen, NOW) == text


def test_status_summary_in_lifecycle_order() -> None:
    commands = [{"status": s} for s in ["applied", "pending", "delivered", "applied", "odd"]]

    assert summary(commands) == "pending 1 · delivered 1 · applied 2 · odd 1"


def test_422_details_render_on_one_line() -> None:
    assert render_detail("bad\nthing") == "bad\nthing"
    assert render_detail(
        [
            {"loc": ["query", "limit"], "msg": "Input should be less than or equal to 1000"},
            {"loc": [], "msg": "both coordinates or neither"},
            "plain",
        ]
    ) == (
        "query.limit: Input should be less than or equal to 1000; "
        "both coordinates or neither; plain"
    )


def test_error_detail_falls_back_to_the_reason_phrase() -> None:
    html = httpx.Response(
        502, content=b"<html>\n<b>Bad gateway</b></html>", headers={"content-type": "text/html"}
    )
    plain = httpx.Response(502, text="upstream\nconnect error")
    multi_line = httpx.Response(400, json={"detail": "line one\n  line two"})

    assert error_detail(html) == "Bad Gateway"
    assert error_detail(plain) == "upstream connect error"
    assert error_detail(multi_line) == "line one line two"


@pytest.mark.parametrize(
    "value",
    [
        "90s",
        "10m",
        "2h",
        "1d",
        "1.5h",
        "500ms",
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00+01:00",
    ],
)
def test_since_until_accepts_durations_and_rfc3339(value: str) -> None:
    assert params.SinceUntil().convert(value, None, None) == value


@pytest.mark.parametrize(
    "value", ["10", "0s", "1w", "-5m", ".5h", "1,5h", "2026-11-23", "2026-11-23T10:00"]
)
def test_since_until_rejects_the_rest(value: str) -> None:
    with pytest.raises(click.BadParameter, match="neither a duration"):
        params.SinceUntil().convert(value, None, None)


@pytest.mark.parametrize(("value", "ok"), [("500ms", True), ("1s", True), ("0ms", False)])
def test_bucket(value: str, ok: bool) -> None:
    if ok:
        assert params.Bucket().convert(value, None, None) == value
    else:
        with pytest.raises(click.BadParameter):
            params.Bucket().convert(value, None, None)


def test_selector_needs_exactly_one() -> None:
    assert params.selector("a", None, False) == {"serial_number": "a"}
    assert params.selector(None, "t", False) == {"target": "t"}
    assert params.selector(None, None, True) == {"all": True}
    with pytest.raises(click.UsageError):
        params.selector(None, None, False)
    with pytest.raises(click.UsageError):
        params.selector("a", "t", True)


@pytest.mark.parametrize(
    ("value", "normal"),
    [("http://127.0.0.1:8080/", "http://127.0.0.1:8080"), (" https://gw/iot ", "https://gw/iot")],
)
def test_urls_are_normalized(value: str, normal: str) -> None:
    assert normalize_url(value) == normal


@pytest.mark.parametrize("value", ["127.0.0.1:8080", "ftp://gw", "http://", "http://gw:port"])
def test_invalid_urls_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"URL|port"):
        normalize_url(value)
