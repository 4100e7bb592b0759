"""Entry point of the measurements-ingester: wiring only."""

from __future__ import annotations

from functools import partial

from iot_messaging.app import ConsumerApp, run_consumer_app
from iot_routing import MEASUREMENTS_DB_WRITER
from iot_service import load_settings

from measurements_ingester.config import Settings
from measurements_ingester.decode import Batch, decode_batch
from measurements_ingester.maintenance import maintenance_duty
from measurements_ingester.store import MeasurementStore

SERVICE = "measurements-ingester"


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    decode = partial(
        decode_batch,
        max_rate_hz=settings.max_sample_rate_hz,
        max_samples=settings.max_samples_per_message,
    )
    run_consumer_app(
        ConsumerApp[Batch](
            name=SERVICE,
            settings=settings,
            queue=MEASUREMENTS_DB_WRITER,
            decode=lambda message: _weighted(decode(message.body, message.routing_key or "")),
            build_handler=MeasurementStore,
            prefetch=settings.prefetch,
            max_batch_weight=settings.max_batch_samples,
            max_batch_delay=settings.max_batch_delay_seconds,
            duties=[maintenance_duty(settings.maintenance_interval_seconds)],
        )
    )


def _weighted(batch: Batch) -> tuple[Batch, int]:
    return batch, len(batch.values)


if __name__ == "__main__":
    main()
