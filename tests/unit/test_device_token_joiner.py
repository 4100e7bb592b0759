"""The default joiner's checks of a LiveKit join token, on tokens livekit-api really issues."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
import structlog
from iot_device.token_joiner import TokenJoiner, claims_problem, token_problem
from iot_routing import new_device_id
from structlog.testing import capture_logs

from tests.device_messages import LIVEKIT_URL, join_token, session_join

DEVICE = new_device_id()
ROOM = "room-1"


def _problem(token: str, now: float | None = None) -> str | None:
    return token_problem(token, device_id=DEVICE, room=ROOM, now=now or time.time())


def test_a_token_for_this_device_and_room_is_accepted() -> None:
    assert _problem(join_token(DEVICE, ROOM)) is None


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (join_token(DEVICE, "room-2"), "join token is for room 'room-2', not 'room-1'"),
        (join_token(new_device_id(), ROOM), "join token is for identity 'dev-"),
        (join_token(DEVICE, ROOM, room_join=False), "join token does not grant roomJoin"),
        ("not-a-jwt", "join token is not a readable JWT (DecodeError)"),
        ("", "join token is not a readable JWT"),
    ],
    ids=["other-room", "other-identity", "no-room-join", "garbage", "empty"],
)
def test_a_token_that_does_not_fit_says_why(token: str, reason: str) -> None:
    problem = _problem(token)
    assert problem is not None
    assert problem.startswith(reason)


def test_an_expired_token_is_refused() -> None:
    token = join_token(DEVICE, ROOM, ttl=timedelta(seconds=60))
    assert _problem(token, now=time.time() + 61) == "join token expired"


def test_a_token_not_valid_yet_is_refused_beyond_the_clock_leeway() -> None:
    token = join_token(DEVICE, ROOM)
    assert _problem(token, now=time.time() - 30) is None  # device clock a little behind
    assert _problem(token, now=time.time() - 3600) == "join token is not valid yet"


def test_the_signature_is_not_needed_to_read_the_claims() -> None:
    """The device does not have the LiveKit secret: any signing key gives the same answer."""
    claims = {"sub": DEVICE, "video": {"roomJoin": True, "room": ROOM}, "exp": time.time() + 60}
    token = jwt.encode(claims, "some-other-secret-of-sufficient-length", algorithm="HS256")
    assert _problem(token) is None


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"video": {"roomJoin": True, "room": ROOM}, "exp": 2e9}, "identity None"),
        ({"sub": DEVICE, "video": "room-1", "exp": 2e9}, "does not grant roomJoin"),
        ({"sub": DEVICE, "video": {"roomJoin": "yes", "room": ROOM}}, "does not grant roomJoin"),
        ({"sub": DEVICE, "video": {"roomJoin": True, "room": ROOM}}, "has no expiry"),
    ],
    ids=["no-identity", "grant-not-an-object", "room-join-not-true", "no-expiry"],
)
def test_malformed_claims_are_refused(claims: dict[str, object], reason: str) -> None:
    problem = claims_problem(claims, device_id=DEVICE, room=ROOM, now=time.time())
    assert problem is not None
    assert reason in problem


async def test_the_joiner_logs_and_remembers_the_session_it_joined() -> None:
    join = session_join(DEVICE, session_name=ROOM)
    with capture_logs() as logs:
        joiner = TokenJoiner(DEVICE, structlog.get_logger())
        result = await joiner.join(join)
    assert result.joined
    session = joiner.sessions.recall(join.session_id)
    assert session is not None
    assert (session.request_id, session.room, session.livekit_url) == (
        join.request_id,
        ROOM,
        LIVEKIT_URL,
    )
    [line] = logs
    assert line["event"] == "joined session"
    assert (line["session_id"], line["room"], line["livekit_url"]) == (
        join.session_id,
        ROOM,
        LIVEKIT_URL,
    )


async def test_the_joiner_fails_a_join_whose_token_does_not_fit() -> None:
    join = session_join(DEVICE, session_name=ROOM, token=join_token(DEVICE, "room-2"))
    with capture_logs() as logs:
        joiner = TokenJoiner(DEVICE, structlog.get_logger())
        result = await joiner.join(join)
    assert not result.joined
    assert "room-2" in result.reason
    assert len(joiner.sessions) == 0
    assert [(line["log_level"], line["event"]) for line in logs] == [
        ("warning", "join token refused")
    ]
