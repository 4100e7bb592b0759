"""RabbitMQ plumbing over aiormq: reconnecting connections, topology, confirmed publishing and
a batching consumer that acknowledges only after the batch's effect is durable."""

from iot_messaging.backoff import Backoff
from iot_messaging.connection import BROKER_ERRORS, connect_with_retry
from iot_messaging.consumer import (
    BatchConsumer,
    ConsumerMetrics,
    Delivery,
    EndToEndLag,
    InvalidMessageError,
    QueueMetrics,
)
from iot_messaging.publisher import (
    Publisher,
    PublishError,
    message_properties,
    publish_confirmed,
)
from iot_messaging.topology import declare_queue, declare_topology

__all__ = [
    "BROKER_ERRORS",
    "Backoff",
    "BatchConsumer",
    "ConsumerMetrics",
    "Delivery",
    "EndToEndLag",
    "InvalidMessageError",
    "PublishError",
    "Publisher",
    "QueueMetrics",
    "connect_with_retry",
    "declare_queue",
    "declare_topology",
    "message_properties",
    "publish_confirmed",
]
