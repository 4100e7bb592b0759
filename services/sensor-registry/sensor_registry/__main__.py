"""Entry point of the sensor-registry: wiring only."""

from __future__ import annotations

from iot_messaging.app import ConsumerApp, run_consumer_app
from iot_routing import REGISTRY_CREATED
from iot_service import load_settings

from sensor_registry.config import Settings
from sensor_registry.decode import Registration, decode_registration
from sensor_registry.store import RegistrationStore

SERVICE = "sensor-registry"


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    run_consumer_app(
        ConsumerApp[Registration](
            name=SERVICE,
            settings=settings,
            queue=REGISTRY_CREATED,
            decode=lambda message: (
                decode_registration(
                    message.body, message.routing_key or "", settings.max_sample_frequency_hz
                ),
                1,
            ),
            build_handler=RegistrationStore,
            prefetch=settings.prefetch,
            max_batch_weight=settings.prefetch,
        )
    )


if __name__ == "__main__":
    main()
