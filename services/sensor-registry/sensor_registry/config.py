"""Settings of the sensor-registry (environment variables IOT_*)."""

from __future__ import annotations

from iot_service import DatabaseSettings
from pydantic import Field


class Settings(DatabaseSettings):
    http_port: int = Field(9101, ge=0, le=65535)
    # Per queue: registrations, command acknowledgements and heartbeats each get this window.
    prefetch: int = Field(64, ge=1)
    # How long a batch may wait for more messages. The registry's traffic is light and an
    # acknowledgement's latency is what an operator waiting for a command sees: keep it short.
    max_batch_delay_seconds: float = Field(0.005, ge=0, le=1, allow_inf_nan=False)
    max_sample_frequency_hz: float = Field(1_000_000.0, gt=0)
    command_sweep_seconds: float = Field(
        5.0, gt=0, allow_inf_nan=False, description="how often overdue commands are expired"
    )
    command_expiry_grace_seconds: float = Field(
        30.0,
        ge=0,
        allow_inf_nan=False,
        description="how long after expires_at an open command waits for the sensor's outcome",
    )
