"""Settings of the api-gateway (environment variables IOT_*)."""

from __future__ import annotations

from iot_service import DatabaseSettings
from pydantic import Field, SecretStr


class Settings(DatabaseSettings):
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP API, health and metrics")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC API; 0 picks a free port")
    bootstrap_admin_key: SecretStr | None = Field(
        None, description="an admin API key (iot_...) made sure to exist at start"
    )
    command_ttl_seconds: int = Field(3600, ge=1, le=86_400)
    max_sample_frequency_hz: float = Field(25_000.0, gt=0)
    offline_after_intervals: float = Field(3.0, ge=1)
    # Used for sensors that never sent a heartbeat (their interval is unknown).
    default_heartbeat_seconds: float = Field(10.0, gt=0)
    publish_timeout_seconds: float = Field(5.0, gt=0)
    query_timeout_seconds: float = Field(10.0, gt=0)
    # Devices: 3 x the join-dispatcher's default ping interval (IOT_PING_SECONDS = 15).
    device_offline_after_seconds: float = Field(45.0, gt=0)
    # The virtual host devices connect to: told with each credential, and the only one the
    # broker-auth endpoints let a device into.
    device_vhost: str = Field("/", min_length=1, description="the devices' RabbitMQ vhost")
    # RabbitMQ's HTTP auth backend asks here whether a device may log in and what it may do: a
    # listener apart from the API, so that only the broker's network can try passwords.
    # Loopback by default, so that nothing but a broker on the same host can ask until a
    # deployment opens it on purpose (to the broker's network only).
    broker_auth_host: str = Field("127.0.0.1", description="address of the broker-auth listener")
    broker_auth_port: int = Field(
        8081, ge=0, le=65535, description="broker-auth endpoints; 0 picks a free port"
    )
    # How long a device lookup is reused, which is how long a revocation or a rotated
    # credential takes to reach the broker's new connections.
    broker_auth_cache_seconds: float = Field(5.0, ge=0, le=300)
    max_join_deadline_seconds: int = Field(86_400, ge=1)
