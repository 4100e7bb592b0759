"""Settings of the measurements-ingester (environment variables IOT_*)."""

from __future__ import annotations

from iot_service import DatabaseSettings
from pydantic import Field


class Settings(DatabaseSettings):
    """Batching and validation limits; the defaults suit one ingester per core."""

    http_port: int = Field(9102, ge=0, le=65535)
    prefetch: int = Field(256, ge=1, description="unacked messages RabbitMQ may hand us")
    max_batch_samples: int = Field(
        50_000, ge=1, description="write as soon as this many samples are pending"
    )
    max_batch_delay_seconds: float = Field(
        0.02, gt=0, description="write pending samples at most this long after the first"
    )
    max_sample_rate_hz: float = Field(1_000_000.0, gt=0)
    max_samples_per_message: int = Field(1_000_000, ge=1)
    maintenance_interval_seconds: float = Field(
        3600.0, gt=0, description="how often to run iot_maintain() (partitions, retention)"
    )
