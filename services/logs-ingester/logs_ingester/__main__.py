"""Entry point of the logs-ingester: wiring only."""

from __future__ import annotations

from functools import partial

from iot_messaging.app import ConsumerApp, run_consumer_app
from iot_routing import LOGS
from iot_service import load_settings

from logs_ingester.config import Settings
from logs_ingester.decode import LogEntry, decode_log
from logs_ingester.store import LogStore

SERVICE = "logs-ingester"


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    run_consumer_app(
        ConsumerApp[LogEntry](
            name=SERVICE,
            settings=settings,
            queue=LOGS,
            decode=lambda message: (
                decode_log(message.body, message.routing_key or "", settings.max_message_chars),
                1,
            ),
            build_handler=partial(LogStore, logs_file=settings.logs_file),
            prefetch=settings.prefetch,
            max_batch_weight=settings.prefetch // 2,
            max_batch_delay=settings.max_batch_delay_seconds,
        )
    )


if __name__ == "__main__":
    main()
