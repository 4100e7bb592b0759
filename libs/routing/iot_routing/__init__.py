"""Every exchange, queue, routing key and queue argument of the platform, in one place.

Queue names follow the ``entity.id.consumer.type`` pattern; publishers use concrete routing keys
(``sensor.<serial>.measurements``) and consumers bind with wildcards (``sensor.*.measurements``).
No other module spells these strings: deployment definitions and documentation are generated
from here.
"""

from iot_routing.names import (
    ALL,
    COMMAND_ACKS,
    DEAD_LETTER_EXCHANGE,
    DELIVERY_LIMIT,
    EXCHANGE,
    HEARTBEATS,
    LOGS,
    MEASUREMENTS_DB_WRITER,
    REGISTRY_CREATED,
    SERVICE_QUEUES,
    Command,
    Exchange,
    QueueSpec,
    command_acks_key,
    commands_key,
    commands_queue,
    heartbeat_key,
    logs_key,
    measurements_key,
    registry_key,
)
from iot_routing.serials import InvalidSerialError, serial_from_hostname, validate_serial

__all__ = [
    "ALL",
    "COMMAND_ACKS",
    "DEAD_LETTER_EXCHANGE",
    "DELIVERY_LIMIT",
    "EXCHANGE",
    "HEARTBEATS",
    "LOGS",
    "MEASUREMENTS_DB_WRITER",
    "REGISTRY_CREATED",
    "SERVICE_QUEUES",
    "Command",
    "Exchange",
    "InvalidSerialError",
    "QueueSpec",
    "command_acks_key",
    "commands_key",
    "commands_queue",
    "heartbeat_key",
    "logs_key",
    "measurements_key",
    "registry_key",
    "serial_from_hostname",
    "validate_serial",
]
