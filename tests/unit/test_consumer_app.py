"""ConsumerApp: one queue or several per process, with metrics and readiness kept apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from aiormq.abc import DeliveredMessage
from iot_messaging import ConsumerMetrics
from iot_messaging.app import ConsumerApp, QueueConsumer, amqp_conditions
from iot_routing import COMMAND_ACKS, HEARTBEATS, LOGS, REGISTRY_CREATED
from iot_service import DatabaseSettings, ServiceMetrics


def _decode(message: DeliveredMessage) -> tuple[bytes, int]:
    return message.body, 1


def _handler(pool: Any, metrics: ServiceMetrics, log: Any) -> Any:
    async def handle(items: Sequence[bytes]) -> None:
        return None

    return handle


def test_a_single_queue_app_keeps_its_old_form() -> None:
    app = ConsumerApp[bytes](
        name="x",
        settings=DatabaseSettings(),
        queue=LOGS,
        decode=_decode,
        build_handler=_handler,
        prefetch=7,
        max_batch_weight=3,
        max_batch_delay=0.5,
    )
    (consumer,) = app.all_consumers
    assert (consumer.queue, consumer.prefetch, consumer.max_batch_weight) == (LOGS, 7, 3)
    assert consumer.max_batch_delay == 0.5
    assert amqp_conditions(app.all_consumers) == ["amqp"]


def test_an_app_with_several_queues_gets_a_readiness_condition_per_queue() -> None:
    app = ConsumerApp[Any](
        name="x",
        settings=DatabaseSettings(),
        consumers=[
            QueueConsumer(REGISTRY_CREATED, _decode, _handler),
            QueueConsumer(COMMAND_ACKS, _decode, _handler),
            QueueConsumer(HEARTBEATS, _decode, _handler),
        ],
    )
    assert amqp_conditions(app.all_consumers) == [
        f"amqp:{REGISTRY_CREATED.name}",
        f"amqp:{COMMAND_ACKS.name}",
        f"amqp:{HEARTBEATS.name}",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {},  # neither form
        {"queue": LOGS, "decode": _decode},  # an incomplete single-queue form
        {  # both forms
            "queue": LOGS,
            "decode": _decode,
            "build_handler": _handler,
            "consumers": [QueueConsumer(HEARTBEATS, _decode, _handler)],
        },
        {  # one queue twice
            "consumers": [
                QueueConsumer(LOGS, _decode, _handler),
                QueueConsumer(LOGS, _decode, _handler),
            ]
        },
    ],
)
def test_an_ambiguous_app_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"queue|consum"):
        ConsumerApp[Any](name="x", settings=DatabaseSettings(), **fields)


def test_consumers_of_one_process_count_into_separate_series() -> None:
    service = ServiceMetrics("svc")
    family = ConsumerMetrics(service)
    acks, beats = family.for_queue(COMMAND_ACKS.name), family.for_queue(HEARTBEATS.name)
    acks.received.inc(3)
    beats.received.inc()
    acks.dead_lettered("undecodable").inc()
    beats.failed("ConnectionError").inc(2)

    def value(name: str, **labels: str) -> float | None:
        return service.registry.get_sample_value(f"iot_{name}", {"service": "svc", **labels})

    assert value("messages_received_total", queue=COMMAND_ACKS.name) == 3
    assert value("messages_received_total", queue=HEARTBEATS.name) == 1
    # Created up front: a queue that has seen nothing still exports 0.
    assert value("messages_processed_total", queue=HEARTBEATS.name) == 0
    assert value("messages_dead_lettered_total", queue=COMMAND_ACKS.name, reason="undecodable") == 1
    assert value("batches_failed_total", queue=HEARTBEATS.name, reason="ConnectionError") == 2
