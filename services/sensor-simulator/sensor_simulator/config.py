"""The simulator's settings, from IOT_* environment variables (see the README for the table)."""

from __future__ import annotations

import socket

from iot_routing import serial_from_hostname, validate_serial
from iot_service.settings import ServiceSettings
from pydantic import Field, field_validator, model_validator

from sensor_simulator.sensor import MAX_SAMPLE_FREQUENCY_HZ

DEFAULT_HTTP_PORT = 9104
DEFAULT_FIRMWARE_VERSION = "sim-0.1.0"
# Generous upper bounds: values beyond them are typos, not configurations.
_MAX_BATCH_SAMPLES = 1_000_000
_MAX_FREQUENCY_LIMIT_HZ = 1_000_000.0
_MAX_HEARTBEAT_SECONDS = 3_600.0


def _serial_of_this_host() -> str:
    # Replicas get distinct serials that survive restarts (a StatefulSet pod keeps its name).
    return serial_from_hostname(socket.gethostname())


class SimulatorSettings(ServiceSettings):
    """Everything the simulator reads from its environment."""

    sensor_serial: str = Field(
        default_factory=_serial_of_this_host,
        description="serial number; default derived from the host name",
    )
    sample_frequency_hz: float = Field(10.0, gt=0, allow_inf_nan=False)
    batch_interval_seconds: float = Field(0.1, gt=0, le=60, allow_inf_nan=False)
    max_batch_samples: int = Field(5_000, ge=1, le=_MAX_BATCH_SAMPLES)
    max_backlog_seconds: float = Field(60.0, gt=0, allow_inf_nan=False)
    max_sample_frequency_hz: float = Field(
        MAX_SAMPLE_FREQUENCY_HZ, gt=0, le=_MAX_FREQUENCY_LIMIT_HZ, allow_inf_nan=False
    )
    firmware_version: str = Field(DEFAULT_FIRMWARE_VERSION, min_length=1)
    heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        le=_MAX_HEARTBEAT_SECONDS,
        allow_inf_nan=False,
        description="a heartbeat every this many seconds, awake or asleep",
    )
    http_port: int = Field(DEFAULT_HTTP_PORT, ge=0, le=65535, description="0 picks a free port")
    # Off in deployments: there the broker's definitions create the exchanges and the
    # consumers' queues, and the sensor's RabbitMQ user (the untrusted edge) may not configure
    # (which includes delete) or read them.
    declare_topology: bool = Field(
        True,
        description="declare the exchanges and the consumers' queues (local development, tests)",
    )

    @field_validator("sensor_serial")
    @classmethod
    def _valid_serial(cls, value: str) -> str:
        return validate_serial(value)

    @model_validator(mode="after")
    def _frequency_within_maximum(self) -> SimulatorSettings:
        if self.sample_frequency_hz > self.max_sample_frequency_hz:
            raise ValueError(
                f"IOT_SAMPLE_FREQUENCY_HZ={self.sample_frequency_hz:g} is above"
                f" IOT_MAX_SAMPLE_FREQUENCY_HZ={self.max_sample_frequency_hz:g}"
            )
        return self
