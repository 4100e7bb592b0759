"""LiveKit join tokens: one per device and request, for the session's room only.

A token is a LiveKit access token (an HS256 JWT signed with the API secret) whose identity is
the device id, so that in the room every participant is a known device, and whose only grant
is joining the session's room. It is valid until the request's deadline plus a grace period:
LiveKit checks the expiry only when a participant connects, and a device that took its JOIN
just before the deadline still needs a few seconds to connect (and the LiveKit server's clock
may run a little ahead of ours). After that the token is useless, so a JOIN that leaked from
a queue cannot be replayed later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from livekit.api import AccessToken, VideoGrants
from pydantic import SecretStr

# A token never lives for less than this, so a JOIN published in the deadline's last instant
# still carries one a device can use.
MINIMUM_TTL = timedelta(seconds=1)


def token_ttl(now: datetime, deadline: datetime, grace: timedelta) -> timedelta:
    """How long a token minted at `now` stays valid: until deadline + grace."""
    return max(deadline + grace - now, MINIMUM_TTL)


@dataclass(frozen=True)
class TokenMinter:
    """Signs join tokens with the platform's LiveKit key and secret."""

    api_key: SecretStr
    api_secret: SecretStr
    grace: timedelta

    def mint(
        self, *, device_id: str, device_name: str, room: str, deadline: datetime, now: datetime
    ) -> str:
        """A token for `device_id` (shown as `device_name`) to join `room` until the deadline."""
        return (
            AccessToken(self.api_key.get_secret_value(), self.api_secret.get_secret_value())
            .with_identity(device_id)
            .with_name(device_name)
            .with_grants(VideoGrants(room_join=True, room=room))
            .with_ttl(token_ttl(now, deadline, self.grace))
            .to_jwt()
        )
