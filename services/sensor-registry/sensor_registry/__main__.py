"""Entry point of the sensor-registry: wiring only.

One process consumes three queues, each batched and committed on its own: registrations,
command acknowledgements and heartbeats; a duty expires commands no outcome came for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiormq.abc import DeliveredMessage
from iot_messaging.app import ConsumerApp, QueueConsumer, run_consumer_app
from iot_routing import COMMAND_ACKS, HEARTBEATS, REGISTRY_CREATED
from iot_service import load_settings

from sensor_registry.ack_decode import decode_ack
from sensor_registry.ack_store import AckStore
from sensor_registry.config import Settings
from sensor_registry.decode import decode_registration
from sensor_registry.expiry import expiry_duty
from sensor_registry.heartbeat_decode import decode_heartbeat
from sensor_registry.heartbeat_store import HeartbeatStore
from sensor_registry.store import RegistrationStore

SERVICE = "sensor-registry"
T = TypeVar("T")


def _one_each(
    decode: Callable[[bytes, str, float], T], max_frequency_hz: float
) -> Callable[[DeliveredMessage], tuple[T, int]]:
    """A consumer decoder for messages that each weigh 1 (one row each)."""

    def decode_message(message: DeliveredMessage) -> tuple[T, int]:
        return decode(message.body, message.routing_key or "", max_frequency_hz), 1

    return decode_message


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    hz = settings.max_sample_frequency_hz
    limits: dict[str, Any] = {
        "prefetch": settings.prefetch,
        "max_batch_weight": settings.prefetch,
        "max_batch_delay": settings.max_batch_delay_seconds,
    }
    run_consumer_app(
        ConsumerApp[Any](
            name=SERVICE,
            settings=settings,
            consumers=[
                QueueConsumer(
                    REGISTRY_CREATED,
                    _one_each(decode_registration, hz),
                    RegistrationStore,
                    **limits,
                ),
                QueueConsumer(COMMAND_ACKS, _one_each(decode_ack, hz), AckStore, **limits),
                QueueConsumer(
                    HEARTBEATS, _one_each(decode_heartbeat, hz), HeartbeatStore, **limits
                ),
            ],
            duty_factories=[
                expiry_duty(settings.command_sweep_seconds, settings.command_expiry_grace_seconds)
            ],
        )
    )


if __name__ == "__main__":
    main()
