"""Fleet input that needs no database: ids, names, session metadata and join deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_gateway.errors import InvalidArgumentError
from api_gateway.fleet.models import (
    MAX_SESSION_METADATA_BYTES,
    DeviceCreate,
    GroupCreate,
    JoinRequestCreate,
    ProjectCreate,
)
from api_gateway.timeparse import parse_deadline
from api_gateway.validation import describe_validation
from pydantic import ValidationError

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
JOIN = {"project": "studio", "group": "cams", "session_id": "s-1", "session_name": "room-1"}


def _refusal(model: Any, **body: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        model(**body)
    return describe_validation(caught.value.errors())


def test_project_and_group_ids_are_routing_key_words() -> None:
    assert ProjectCreate(id="studio-a", name="Studio A").id == "studio-a"
    assert "pattern" in _refusal(ProjectCreate, id="Studio", name="x")
    assert "pattern" in _refusal(ProjectCreate, id="a.b", name="x")
    assert "reserved" in _refusal(ProjectCreate, id="all", name="x")
    assert "reserved" in _refusal(GroupCreate, name="all")
    assert "comments" in _refusal(GroupCreate, name="g", comments="x" * 2001)
    assert GroupCreate(name="cams").comments == ""


def test_names_are_printable_and_bounded() -> None:
    assert DeviceCreate(name="Caméra 1 (hall) ü", group="cams").name == "Caméra 1 (hall) ü"
    assert "blank" in _refusal(DeviceCreate, name="   ", group="cams")
    assert "control characters" in _refusal(DeviceCreate, name="a\nb", group="cams")
    assert "name" in _refusal(DeviceCreate, name="x" * 201, group="cams")
    assert "extra" in _refusal(DeviceCreate, name="x", group="cams", id="dev-x").lower()


def test_join_request_defaults_and_metadata() -> None:
    request = JoinRequestCreate(**JOIN)
    assert (request.deadline, request.session_metadata) == ("60s", {})
    nested = JoinRequestCreate(**JOIN, session_metadata={"a": [1, {"b": None}]})
    assert nested.session_metadata == {"a": [1, {"b": None}]}
    assert "session_metadata" in _refusal(JoinRequestCreate, **JOIN, session_metadata=[1])
    assert "session_metadata" in _refusal(JoinRequestCreate, **JOIN, session_metadata="{}")
    too_big = {"x": "y" * MAX_SESSION_METADATA_BYTES}
    assert "bytes" in _refusal(JoinRequestCreate, **JOIN, session_metadata=too_big)
    assert "session_name" in _refusal(JoinRequestCreate, **{**JOIN, "session_name": ""})
    # What PostgreSQL's jsonb refuses is refused here, as a 422, not a database error later.
    assert "U+0000" in _refusal(JoinRequestCreate, **JOIN, session_metadata={"k": ["a\x00"]})
    assert "U+0000" in _refusal(JoinRequestCreate, **JOIN, session_metadata={"k\x00": 1})
    assert "NaN" in _refusal(JoinRequestCreate, **JOIN, session_metadata={"k": float("nan")})


def test_comments_span_lines_but_hold_no_other_control_character() -> None:
    assert GroupCreate(name="cams", comments="stage left\n\tand right").comments.count("\n") == 1
    assert "control characters" in _refusal(GroupCreate, name="cams", comments="a\x00b")
    assert "control characters" in _refusal(DeviceCreate, name="x", group="cams", comments="\x1b[")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60s", NOW + timedelta(seconds=60)),
        ("5m", NOW + timedelta(minutes=5)),
        (" 2h ", NOW + timedelta(hours=2)),
        ("1d", NOW + DAY),
        ("2026-11-23T10:30:00Z", NOW + timedelta(minutes=30)),
        ("2026-11-23T11:30:00+01:00", NOW + timedelta(minutes=30)),
    ],
)
def test_deadlines_are_instants_or_durations_from_now(text: str, expected: datetime) -> None:
    assert parse_deadline(text, "deadline", NOW, DAY) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("0s", "longer than zero"),
        ("25h", "at most 1d from now"),
        ("2026-11-25T10:00:00Z", "at most 1d from now"),
        ("2026-11-23T09:59:59Z", "in the future"),
        ("2026-11-23T10:00:00Z", "in the future"),
        ("2026-11-23T10:30:00", "offset"),
        ("soon", "RFC 3339"),
        ("", "in the future"),
        ("99999999999999d", "too long"),
    ],
)
def test_bad_deadlines_are_refused(text: str, detail: str) -> None:
    with pytest.raises(InvalidArgumentError, match=detail):
        parse_deadline(text, "deadline", NOW, DAY)
