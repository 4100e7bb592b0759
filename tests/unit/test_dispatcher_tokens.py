"""Join tokens verify with LiveKit's own verifier, for one room and one device, until the
deadline plus the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from join_dispatcher.tokens import MINIMUM_TTL, TokenMinter, token_ttl
from livekit.api import TokenVerifier
from pydantic import SecretStr

KEY = "unit-key"
SECRET = "unit-secret-" + "s" * 32
GRACE = timedelta(seconds=60)


def minter() -> TokenMinter:
    return TokenMinter(SecretStr(KEY), SecretStr(SECRET), GRACE)


def test_a_token_grants_joining_the_room_as_the_device() -> None:
    now = datetime.now(UTC)
    token = minter().mint(
        device_id="dev-aaaaaaaaaaaaaaaa",
        device_name="front door",
        room="room-9",
        deadline=now + timedelta(minutes=5),
        now=now,
    )
    claims = TokenVerifier(KEY, SECRET).verify(token)
    assert (claims.identity, claims.name) == ("dev-aaaaaaaaaaaaaaaa", "front door")
    assert claims.video is not None
    assert (claims.video.room, claims.video.room_join) == ("room-9", True)
    assert not claims.video.room_admin and not claims.video.room_create


def test_a_token_expires_at_the_deadline_plus_the_grace() -> None:
    now = datetime.now(UTC)
    deadline = now + timedelta(minutes=5)
    token = minter().mint(
        device_id="dev-aaaaaaaaaaaaaaaa", device_name="d", room="r", deadline=deadline, now=now
    )
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert abs(expires - (deadline + GRACE).timestamp()) <= 1


def test_a_token_signed_with_another_secret_or_key_is_refused() -> None:
    now = datetime.now(UTC)
    token = minter().mint(
        device_id="dev-aaaaaaaaaaaaaaaa", device_name="d", room="r", deadline=now, now=now
    )
    with pytest.raises(jwt.InvalidSignatureError):
        TokenVerifier(KEY, "x" * 40).verify(token)
    with pytest.raises(jwt.InvalidIssuerError):
        TokenVerifier("another-key", SECRET).verify(token)


def test_the_ttl_runs_to_the_deadline_plus_grace_and_never_below_the_minimum() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert token_ttl(now, now + timedelta(seconds=30), GRACE) == timedelta(seconds=90)
    assert token_ttl(now, now - timedelta(hours=1), GRACE) == MINIMUM_TTL
