"""Typed settings from IOT_* environment variables, defaulting to the local development services."""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Local development only: a deployment sets these through its secrets.
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_DATABASE_URL = "postgresql://iot_app@127.0.0.1:5432/iot"


class ServiceSettings(BaseSettings):
    """Settings every service has; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="IOT_", extra="ignore", frozen=True)

    amqp_url: str = Field(LOCAL_AMQP_URL, description="RabbitMQ URL (IOT_AMQP_URL)")
    http_host: str = Field("0.0.0.0", description="address of the health/metrics server")
    http_port: int = Field(9100, ge=0, le=65535, description="0 picks a free port")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: readable on a terminal, JSON otherwise"
    )
    reconnect_max_seconds: float = Field(
        10.0, gt=0, description="longest wait between reconnection attempts"
    )


class DatabaseSettings(ServiceSettings):
    """Settings of a service that writes to PostgreSQL."""

    database_url: str = Field(LOCAL_DATABASE_URL, description="PostgreSQL URL (IOT_DATABASE_URL)")
    database_pool_size: int = Field(4, ge=1, le=64)


S = TypeVar("S", bound=ServiceSettings)
EXIT_BAD_CONFIGURATION = 2


def describe_error(error: ValidationError, env_prefix: str = "IOT_") -> str:
    """One line naming each bad environment variable, its problem and the value given."""
    problems = []
    for item in error.errors():
        names = [str(part) for part in item["loc"]]
        variable = "_".join(names)
        # A field read from a variable named apart from the prefix (a validation_alias such as
        # LIVEKIT_API_KEY) is reported under that name, which is already upper-case.
        if not variable.isupper():
            variable = (env_prefix + variable).upper()
        where = variable + ": " if names else ""
        # A missing variable has no value of its own to show (its input is the whole config).
        shown = names and "input" in item and item["type"] != "missing"
        given = f" (got {item['input']!r})" if shown else ""
        problems.append(f"{where}{item['msg']}{given}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings(cls: type[S], service: str) -> S:
    """Read settings from the environment; on a bad value, print one clear line and exit 2."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        print(f"{service}: {describe_error(exc, prefix)}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_CONFIGURATION) from None
