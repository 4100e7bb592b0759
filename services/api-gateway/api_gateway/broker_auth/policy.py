"""What a device may do on the broker: pure decisions from its directory record.

RabbitMQ's HTTP auth backend asks four questions about a user that its internal database does
not know: may it log in, enter this vhost, use this resource (queue or exchange) this way, and
use this routing key on this topic exchange. For devices, each answer follows from nothing but
the device's record (id, project, group, revoked) and the question's fields, so the rules live
here, free of HTTP and SQL, and are tested exhaustively.

A device may enter only the device vhost; read (consume, bind) and write (bind) only its own
queue; read (bind from) and write (publish to) only the exchange ``iot``; bind only its own
JOIN key and its group's ping key; publish only its own JOIN acknowledgements and pongs; and
configure nothing. Everything else, including anything this module does not recognise, is
denied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from iot_routing import (
    EXCHANGE,
    InvalidNameError,
    device_queue_name,
    join_acks_key,
    join_key,
    ping_key,
    pongs_key,
)


class Permission(enum.StrEnum):
    """RabbitMQ's three permissions, as the auth backend names them."""

    CONFIGURE = "configure"
    WRITE = "write"
    READ = "read"


class ResourceKind(enum.StrEnum):
    """The `resource` field of a resource or topic question."""

    QUEUE = "queue"
    EXCHANGE = "exchange"
    TOPIC = "topic"


@dataclass(frozen=True)
class DeviceRecord:
    """What the decisions need to know about a device (no credential)."""

    id: str
    project: str
    group: str
    revoked: bool


@dataclass(frozen=True)
class Decision:
    """An answer, and why: the reason goes into the log line of every denial."""

    allowed: bool
    reason: str

    @property
    def answer(self) -> str:
        """The response body RabbitMQ expects."""
        return "allow" if self.allowed else "deny"


ALLOW = Decision(True, "allowed")


def deny(reason: str) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True)
class ResourceQuestion:
    """May the user have `permission` on the queue or exchange `name` in `vhost`?"""

    vhost: str
    resource: str
    name: str
    permission: str


@dataclass(frozen=True)
class TopicQuestion:
    """May the user bind (read) or publish (write) `routing_key` on topic exchange `exchange`?"""

    vhost: str
    resource: str
    exchange: str
    permission: str
    routing_key: str


@dataclass(frozen=True)
class DeviceGrants:
    """Everything one device may touch, by name."""

    queue: str
    bind_keys: frozenset[str]
    publish_keys: frozenset[str]


def device_grants(device: DeviceRecord) -> DeviceGrants:
    """The names a device may use; InvalidNameError if its record cannot name any."""
    project, group = device.project, device.group
    return DeviceGrants(
        queue=device_queue_name(device.id),
        bind_keys=frozenset((join_key(project, group, device.id), ping_key(project, group))),
        publish_keys=frozenset((join_acks_key(device.id), pongs_key(device.id))),
    )


@dataclass(frozen=True)
class DevicePolicy:
    """The rules for devices in one device vhost."""

    vhost: str

    def login(self, device: DeviceRecord | None, password_matches: bool) -> Decision:
        """May this user log in? `password_matches` is the constant-time comparison's result."""
        if device is None or device.revoked:
            return _unusable(device)
        return ALLOW if password_matches else deny("wrong password")

    def vhost_access(self, device: DeviceRecord | None, vhost: str) -> Decision:
        admitted = self._admit(device, vhost)
        return admitted if isinstance(admitted, Decision) else ALLOW

    def resource_access(self, device: DeviceRecord | None, question: ResourceQuestion) -> Decision:
        """Queues and exchanges: read and write on the device's queue and on `iot`, no more.

        Queue write matters only for binding (queue.bind needs it on the queue, with read on
        the exchange); exchange write is publishing. A device declares, deletes and
        configures nothing, so configure is granted nowhere.
        """
        admitted = self._admit(device, question.vhost)
        if isinstance(admitted, Decision):
            return admitted
        permission = _permission(question.permission)
        if permission is None:
            return deny(f"unknown permission {question.permission!r}")
        if permission is Permission.CONFIGURE:
            return deny("devices configure nothing")
        own: dict[str, str] = {
            ResourceKind.QUEUE: admitted.queue,
            ResourceKind.EXCHANGE: EXCHANGE.name,
        }
        expected = own.get(question.resource)
        if expected is None:
            return deny(f"unknown resource kind {question.resource!r}")
        if question.name != expected:
            return deny(f"{question.resource} {question.name!r} not the device's")
        return ALLOW

    def topic_access(self, device: DeviceRecord | None, question: TopicQuestion) -> Decision:
        """Routing keys on `iot`: bind its own JOIN key and its group's ping key (read), publish
        its own JOIN acknowledgements and pongs (write)."""
        admitted = self._admit(device, question.vhost)
        if isinstance(admitted, Decision):
            return admitted
        if question.resource != ResourceKind.TOPIC:
            return deny(f"unknown resource kind {question.resource!r} for a topic question")
        if question.exchange != EXCHANGE.name:
            return deny(f"exchange {question.exchange!r} not the device's")
        keys: dict[str, frozenset[str]] = {
            Permission.READ: admitted.bind_keys,
            Permission.WRITE: admitted.publish_keys,
        }
        allowed = keys.get(question.permission)
        if allowed is None:
            return deny(f"permission {question.permission!r} not granted on topics")
        if question.routing_key not in allowed:
            return deny(f"routing key not the device's to {question.permission}")
        return ALLOW

    def _admit(self, device: DeviceRecord | None, vhost: str) -> DeviceGrants | Decision:
        """The device's grants if it may be in vhost at all, else the denial."""
        if device is None or device.revoked:
            return _unusable(device)
        if vhost != self.vhost:
            return deny("not the device vhost")
        # The database's CHECK constraints make a bad record impossible; one that slipped
        # past them must still deny, not fail the request.
        try:
            return device_grants(device)
        except InvalidNameError:
            return deny("device record names no valid queue or keys")


def _unusable(device: DeviceRecord | None) -> Decision:
    return deny("unknown device" if device is None else "device revoked")


def _permission(value: str) -> Permission | None:
    try:
        return Permission(value)
    except ValueError:
        return None
