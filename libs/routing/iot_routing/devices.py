"""Names for session devices: projects, groups, device queues, JOINs, pings and their answers.

A device belongs to one project and one group in it. The join-dispatcher publishes a JOIN per
device of the group with the routing key ``project.<project>.group.<group>.join.<device>``:
the key names the project and group, and its last word the device, because each JOIN carries
a join token with that device's identity that no other device may see. Pings go to the whole
group (``project.<project>.group.<group>.ping``). Each device has one durable queue,
``device.<device>.client.inbox``, bound to exactly those two keys; it answers on
``device.<device>.join_acks`` and ``device.<device>.pongs``.

The broker's HTTP authorisation (served by the api-gateway) allows a device exactly what these
functions name, and nothing else.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from iot_routing.names import ALL, DELIVERY_LIMIT, QueueSpec

_PROJECT = "project"
_DEVICE = "device"

# Project and group ids are routing-key words: lower-case letters, digits and '-', starting
# with a letter or digit. 'all' is reserved for fan-in queues.
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Device ids double as broker user names: 'dev-' and 16 random lower-case letters and digits.
_DEVICE_ID = re.compile(r"^dev-[a-z0-9]{16}$")
_DEVICE_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_SLUG_LENGTH = 63


class InvalidNameError(ValueError):
    """A project, group or device id that cannot be used as a routing-key word."""


def validate_slug(kind: str, value: str) -> str:
    """Return a project or group id unchanged if valid, else raise InvalidNameError."""
    if not _SLUG.fullmatch(value) or value == ALL:
        raise InvalidNameError(
            f"invalid {kind} id {value!r}: use 1-{MAX_SLUG_LENGTH} lower-case letters, digits or"
            " '-', starting with a letter or digit ('all' is reserved)"
        )
    return value


def validate_device_id(device_id: str) -> str:
    """Return a device id unchanged if valid, else raise InvalidNameError."""
    if not _DEVICE_ID.fullmatch(device_id):
        raise InvalidNameError(f"invalid device id {device_id!r}: expected dev-<16 [a-z0-9]>")
    return device_id


def is_device_id(name: str) -> bool:
    """Whether a broker user name is shaped like a device id (cheap pre-check, no lookup)."""
    return _DEVICE_ID.fullmatch(name) is not None


def new_device_id() -> str:
    """A fresh random device id (about 82 bits; collisions are caught by the primary key)."""
    return "dev-" + "".join(secrets.choice(_DEVICE_ID_ALPHABET) for _ in range(16))


def _group_prefix(project: str, group: str) -> str:
    return f"{_PROJECT}.{validate_slug('project', project)}.group.{validate_slug('group', group)}"


def join_key(project: str, group: str, device_id: str) -> str:
    """Routing key of one device's JOIN for a session of its group."""
    return f"{_group_prefix(project, group)}.join.{validate_device_id(device_id)}"


def ping_key(project: str, group: str) -> str:
    """Routing key of the presence ping every device of a group receives."""
    return f"{_group_prefix(project, group)}.ping"


def join_acks_key(device_id: str) -> str:
    """Routing key a device answers its JOINs with (received, joined, failed)."""
    return f"{_DEVICE}.{validate_device_id(device_id)}.join_acks"


def pongs_key(device_id: str) -> str:
    """Routing key a device answers pings with."""
    return f"{_DEVICE}.{validate_device_id(device_id)}.pongs"


def join_requests_key(project: str) -> str:
    """Routing key the api-gateway hands a join request to the join-dispatcher with."""
    return f"{_PROJECT}.{validate_slug('project', project)}.join_requests"


@dataclass(frozen=True)
class DeviceBindings:
    """What one device may receive: the two keys its queue binds."""

    join: str
    ping: str

    @property
    def keys(self) -> tuple[str, str]:
        """Both binding keys, JOIN first."""
        return (self.join, self.ping)


def device_bindings(project: str, group: str, device_id: str) -> DeviceBindings:
    """The routing keys a device's queue binds (and the only ones it may bind)."""
    return DeviceBindings(join_key(project, group, device_id), ping_key(project, group))


def device_queue(project: str, group: str, device_id: str) -> QueueSpec:
    """One device's durable inbox: its JOINs and its group's pings.

    JOINs and pings carry their own expiry, so nothing waits past its deadline; there is no
    dead-letter queue (the dispatcher counts an unanswered JOIN as expired at the deadline), but
    a delivery limit stops a JOIN that crashes its device from looping forever.
    """
    return QueueSpec(
        device_queue_name(device_id),
        bindings=device_bindings(project, group, device_id).keys,
        dead_lettered=False,
        extra_arguments=(("x-delivery-limit", DELIVERY_LIMIT),),
    )


def device_queue_name(device_id: str) -> str:
    """Name of a device's inbox queue (what the broker lets that device, and only it, read)."""
    return f"{_DEVICE}.{validate_device_id(device_id)}.client.inbox"


def message_kind(routing_key: str) -> str | None:
    """'join' or 'ping' for a key found on a device's queue, None for anything else."""
    words = routing_key.split(".")
    if len(words) == 6 and words[0] == _PROJECT and words[4] == "join":
        return "join"
    if len(words) == 5 and words[0] == _PROJECT and words[4] == "ping":
        return "ping"
    return None


def device_from_key(routing_key: str) -> str | None:
    """The device id in a ``device.<id>.<kind>`` key, or None when the key is not one."""
    words = routing_key.split(".")
    if len(words) == 3 and words[0] == _DEVICE and is_device_id(words[1]):
        return words[1]
    return None


# The join-dispatcher's fan-in queues.
JOIN_REQUESTS = QueueSpec(
    f"{_PROJECT}.{ALL}.join_requests.dispatcher", bindings=(f"{_PROJECT}.*.join_requests",)
)
JOIN_ACKS = QueueSpec(f"{_DEVICE}.{ALL}.join_acks.dispatcher", bindings=(f"{_DEVICE}.*.join_acks",))
PONGS = QueueSpec(f"{_DEVICE}.{ALL}.pongs.presence", bindings=(f"{_DEVICE}.*.pongs",))

DISPATCHER_QUEUES = (JOIN_REQUESTS, JOIN_ACKS, PONGS)
