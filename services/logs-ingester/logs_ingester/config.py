"""Settings of the logs-ingester (environment variables IOT_*)."""

from __future__ import annotations

from pathlib import Path

from iot_service import DatabaseSettings
from pydantic import Field


class Settings(DatabaseSettings):
    http_port: int = Field(9103, ge=0, le=65535)
    prefetch: int = Field(256, ge=1)
    max_batch_delay_seconds: float = Field(0.1, gt=0)
    max_message_chars: int = Field(8192, ge=16, description="longer log messages are cut")
    logs_file: Path | None = Field(
        None, description="also append logfmt lines here for a log shipper (IOT_LOGS_FILE)"
    )
