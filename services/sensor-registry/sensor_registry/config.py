"""Settings of the sensor-registry (environment variables IOT_*)."""

from __future__ import annotations

from iot_service import DatabaseSettings
from pydantic import Field


class Settings(DatabaseSettings):
    http_port: int = Field(9101, ge=0, le=65535)
    prefetch: int = Field(64, ge=1)
    max_sample_frequency_hz: float = Field(1_000_000.0, gt=0)
