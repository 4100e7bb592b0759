"""JOINs and pings as the join-dispatcher sends them, with real LiveKit tokens, for device tests."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import DevicePing, SessionJoin
from livekit.api import AccessToken, VideoGrants

# Test-only LiveKit credentials: the device never sees them and cannot check the signature.
LIVEKIT_KEY = "test-key"
LIVEKIT_SECRET = "test-secret-that-is-long-enough-for-hs256"
LIVEKIT_URL = "wss://livekit.test.invalid"


def join_token(
    identity: str, room: str, *, ttl: timedelta = timedelta(minutes=10), room_join: bool = True
) -> str:
    """A LiveKit access token, built the way the join-dispatcher builds it."""
    return (
        AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_identity(identity)
        .with_name(f"device {identity}")
        .with_grants(VideoGrants(room_join=room_join, room=room))
        .with_ttl(ttl)
        .to_jwt()
    )


def _in(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(time.time_ns() + int(seconds * 1e9))
    return stamp


def session_join(
    device_id: str,
    *,
    request_id: str | None = None,
    session_name: str = "room-1",
    deadline_in: float = 60.0,
    token: str | None = None,
) -> SessionJoin:
    """A JOIN for device_id; its token grants session_name to device_id unless given."""
    return SessionJoin(
        request_id=request_id or str(uuid.uuid4()),
        device_id=device_id,
        session_id=f"session-{uuid.uuid4().hex[:8]}",
        session_name=session_name,
        session_metadata_json='{"purpose": "test"}',
        session_join_token=token if token is not None else join_token(device_id, session_name),
        livekit_url=LIVEKIT_URL,
        deadline=_in(deadline_in),
    )


def device_ping(interval_seconds: float = 15.0) -> DevicePing:
    return DevicePing(ping_id=str(uuid.uuid4()), sent_at=_in(0), interval_seconds=interval_seconds)
