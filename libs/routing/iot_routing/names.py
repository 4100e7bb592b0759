"""Exchanges, queues, bindings and routing keys."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from iot_routing.serials import validate_serial

ALL = "all"
_SENSOR = "sensor"

# How often RabbitMQ may hand out the same message before dead-lettering it. High enough that
# consumer crashes and restarts never dead-letter good data (consumers hold messages rather than
# requeueing them while the database is down), low enough that a message that kills its
# consumer every time cannot loop forever.
DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class Exchange:
    """An AMQP exchange."""

    name: str
    type: str = "topic"
    durable: bool = True


# The one exchange every service talks over.
EXCHANGE = Exchange("iot")
# Where rejected messages go; each dead-letter queue binds the name of its source queue.
DEAD_LETTER_EXCHANGE = Exchange("iot.dead_letter")


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue, the exchange and routing keys it binds, and its arguments."""

    name: str
    bindings: tuple[str, ...]
    exchange: Exchange = EXCHANGE
    # Quorum queues replicate and survive node loss; per-sensor command queues use them too.
    queue_type: str = "quorum"
    dead_lettered: bool = True
    extra_arguments: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def arguments(self) -> dict[str, Any]:
        """Queue arguments; a redeclaration must use exactly these or RabbitMQ refuses it."""
        arguments: dict[str, Any] = {"x-queue-type": self.queue_type}
        if self.dead_lettered:
            arguments |= {
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
                "x-dead-letter-routing-key": self.name,
                # at-least-once dead-lettering keeps a message in the source queue until the
                # dead-letter queue has confirmed it; RabbitMQ requires reject-publish for it.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                "x-delivery-limit": DELIVERY_LIMIT,
            }
        return arguments | dict(self.extra_arguments)

    @property
    def dead_letter(self) -> QueueSpec | None:
        """The queue that keeps this queue's rejected messages, bound by this queue's name."""
        if not self.dead_lettered:
            return None
        name = ".".join([*self.name.split(".")[:3], "dead_letter"])
        return QueueSpec(
            name, bindings=(self.name,), exchange=DEAD_LETTER_EXCHANGE, dead_lettered=False
        )


class Command(enum.StrEnum):
    """Commands a sensor accepts; the value is the last word of the routing key."""

    SLEEP = "sleep"
    AWAKE = "awake"
    CHANGE_SAMPLE_FREQUENCY = "change_sample_frequency"


def _key(serial: str, kind: str) -> str:
    return f"{_SENSOR}.{validate_serial(serial)}.{kind}"


def measurements_key(serial: str) -> str:
    """Routing key a sensor publishes its measurement batches with."""
    return _key(serial, "measurements")


def registry_key(serial: str) -> str:
    """Routing key a sensor publishes its registration with."""
    return _key(serial, "registry")


def logs_key(serial: str) -> str:
    """Routing key a sensor publishes its log lines with."""
    return _key(serial, "logs")


def commands_key(serial: str, command: Command) -> str:
    """Routing key a command for one sensor is published with."""
    return f"{_key(serial, 'commands')}.{command.value}"


def commands_queue(serial: str) -> QueueSpec:
    """The durable queue holding one sensor's commands until it takes them.

    No dead-letter queue per sensor: an expired or rejected command is simply dropped, and
    its status comes from the sensor's acknowledgements and the command's deadline. The
    delivery limit still stops a command that crashes its sensor from looping forever.
    """
    base = _key(serial, "commands")
    return QueueSpec(
        base,
        bindings=(f"{base}.#",),
        dead_lettered=False,
        extra_arguments=(("x-delivery-limit", DELIVERY_LIMIT),),
    )


def command_acks_key(serial: str) -> str:
    """Routing key a sensor acknowledges its commands with."""
    return _key(serial, "command_acks")


def heartbeat_key(serial: str) -> str:
    """Routing key a sensor publishes its periodic heartbeat with (also while asleep)."""
    return _key(serial, "heartbeat")


MEASUREMENTS_DB_WRITER = QueueSpec(
    f"{_SENSOR}.{ALL}.measurements.db_writer", bindings=(f"{_SENSOR}.*.measurements",)
)
REGISTRY_CREATED = QueueSpec(
    f"{_SENSOR}.{ALL}.registry.created", bindings=(f"{_SENSOR}.*.registry.#",)
)
LOGS = QueueSpec(f"{_SENSOR}.{ALL}.logs", bindings=(f"{_SENSOR}.*.logs.#",))
# Every sensor's command acknowledgements, for whoever tracks command status.
COMMAND_ACKS = QueueSpec(
    f"{_SENSOR}.{ALL}.command_acks.tracker", bindings=(f"{_SENSOR}.*.command_acks",)
)
# Every sensor's heartbeats, for presence (last seen, asleep, offline).
HEARTBEATS = QueueSpec(f"{_SENSOR}.{ALL}.heartbeats.presence", bindings=(f"{_SENSOR}.*.heartbeat",))

# The fan-in queues consumed by services (per-sensor command queues are declared per sensor).
SERVICE_QUEUES = (MEASUREMENTS_DB_WRITER, REGISTRY_CREATED, LOGS, COMMAND_ACKS, HEARTBEATS)
