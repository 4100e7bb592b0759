"""The default Joiner: check the LiveKit join token's claims, then record the session as joined.

A device does not hold the LiveKit API secret, so it cannot verify the token's signature, and
need not: the LiveKit server does that when the device connects. What the device can and should
check before saying JOINED is that the token is meant for it and for this session: the video
grant allows joining the room named by the JOIN, the identity (`sub`) is this device, and the
token has not expired. A real device would then connect to the room with the LiveKit realtime
SDK (`livekit.rtc.Room().connect(livekit_url, token)`) at the marked place below; this platform
runs no LiveKit server, so the default joiner stops at logging the join and remembering it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from iot.v1.join_pb2 import SessionJoin

from iot_device.joining import JoinResult
from iot_device.memory import BoundedMemory

# The dispatcher's clock sets `nbf`; a device clock a little behind must still accept it.
NOT_BEFORE_LEEWAY_SECONDS = 60


def token_problem(token: str, *, device_id: str, room: str, now: float) -> str | None:
    """Why this join token cannot join `room` as `device_id` at `now` (Unix seconds), or None.

    The signature is deliberately not verified (see the module docstring): this only reads the
    claims, so it is a consistency check, not an authentication.
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        return f"join token is not a readable JWT ({type(exc).__name__})"
    return claims_problem(claims, device_id=device_id, room=room, now=now)


def claims_problem(
    claims: Mapping[str, Any], *, device_id: str, room: str, now: float
) -> str | None:
    """The first problem found in a LiveKit token's claims, or None when they allow the join."""
    identity = claims.get("sub")
    if identity != device_id:
        return f"join token is for identity {identity!r}, not this device"
    return _grant_problem(claims.get("video"), room) or _validity_problem(claims, now)


def _grant_problem(video: object, room: str) -> str | None:
    if not isinstance(video, Mapping) or video.get("roomJoin") is not True:
        return "join token does not grant roomJoin"
    if video.get("room") != room:
        return f"join token is for room {video.get('room')!r}, not {room!r}"
    return None


def _validity_problem(claims: Mapping[str, Any], now: float) -> str | None:
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        return "join token has no expiry"
    if expires <= now:
        return "join token expired"
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and not_before > now + NOT_BEFORE_LEEWAY_SECONDS:
        return "join token is not valid yet"
    return None


@dataclass(frozen=True)
class JoinedSession:
    """A session this device joined."""

    request_id: str
    session_id: str
    room: str
    livekit_url: str
    joined_at: float


class TokenJoiner:
    """Joins by checking the token's claims and logging the join (no media connection)."""

    def __init__(
        self,
        device_id: str,
        log: Any,
        *,
        clock: Callable[[], float] = time.time,
        capacity: int = 64,
    ) -> None:
        self._device_id = device_id
        self._log = log
        self._clock = clock
        # Sessions joined, by session id (newest kept): what a real device would be connected to.
        self.sessions: BoundedMemory[str, JoinedSession] = BoundedMemory(capacity)

    async def join(self, join: SessionJoin) -> JoinResult:
        now = self._clock()
        problem = token_problem(
            join.session_join_token, device_id=self._device_id, room=join.session_name, now=now
        )
        if problem is not None:
            self._log.warning(
                "join token refused",
                request_id=join.request_id,
                session_id=join.session_id,
                reason=problem,
            )
            return JoinResult.failure(problem)
        # A real device connects here: livekit.rtc.Room().connect(join.livekit_url, token).
        session = JoinedSession(
            request_id=join.request_id,
            session_id=join.session_id,
            room=join.session_name,
            livekit_url=join.livekit_url,
            joined_at=now,
        )
        self.sessions.remember(join.session_id, session)
        self._log.info(
            "joined session",
            request_id=join.request_id,
            session_id=join.session_id,
            room=join.session_name,
            livekit_url=join.livekit_url or None,
        )
        return JoinResult.success()
