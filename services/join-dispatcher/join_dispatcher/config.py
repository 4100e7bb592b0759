"""Settings of the join-dispatcher (environment variables IOT_*, and LiveKit's own LIVEKIT_*).

The LiveKit key and secret have no default. The other services' local-development defaults
(`guest:guest` in IOT_AMQP_URL) are harmless because RabbitMQ admits `guest` only over
loopback; a signing secret written in the code would let anyone who read it mint join tokens
for any room of a LiveKit server configured with it, so it must come from the environment.
"""

from __future__ import annotations

from iot_service import DatabaseSettings
from pydantic import Field, SecretStr, field_validator

_URL_SCHEMES = ("ws://", "wss://", "http://", "https://")


class Settings(DatabaseSettings):
    http_port: int = Field(9105, ge=0, le=65535)
    # Per queue: join acknowledgements and pongs each get this window.
    prefetch: int = Field(64, ge=1)
    # Join requests are few and each may publish to many devices: a small window is enough.
    request_prefetch: int = Field(8, ge=1)
    # How long an acknowledgement batch waits for more: what an operator waiting sees.
    max_batch_delay_seconds: float = Field(0.005, ge=0, le=1, allow_inf_nan=False)
    ping_seconds: float = Field(
        15.0, gt=0, allow_inf_nan=False, description="how often every device group is pinged"
    )
    join_sweep_seconds: float = Field(
        2.0, gt=0, allow_inf_nan=False, description="how often requests past deadline close"
    )
    publish_concurrency: int = Field(64, ge=1, le=10_000)
    publish_timeout_seconds: float = Field(5.0, gt=0, allow_inf_nan=False)
    join_token_grace_seconds: float = Field(
        60.0,
        ge=0,
        le=86_400,
        allow_inf_nan=False,
        description="how long past the deadline a join token stays valid",
    )
    livekit_api_key: SecretStr = Field(validation_alias="LIVEKIT_API_KEY", min_length=1)
    livekit_api_secret: SecretStr = Field(validation_alias="LIVEKIT_API_SECRET", min_length=1)
    livekit_url: str = Field("", validation_alias="LIVEKIT_URL")

    @field_validator("livekit_url")
    @classmethod
    def _websocket_or_http_url(cls, value: str) -> str:
        if value and not value.startswith(_URL_SCHEMES):
            raise ValueError("expected a ws://, wss://, http:// or https:// URL")
        return value
