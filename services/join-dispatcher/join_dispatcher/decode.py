"""Messages the dispatcher consumes -> validated values, or the reason they are invalid.

A device's answer (JoinAck, DevicePong) is attributed to the device its routing key names
(``device.<id>.join_acks`` / ``.pongs``): the broker lets a device publish only its own keys,
and stamps nothing else we could trust. When the message carries the AMQP ``user_id`` property
the broker has checked it against the connection's user, so it must name the same device; the
body's own device_id must agree too. Anything else is a device (or a bug) speaking for another
device, and is dead-lettered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC

from iot.v1.join_pb2 import DevicePong, JoinAck, JoinRequest, JoinStatus
from iot_messaging import InvalidMessageError
from iot_messaging.validation import LATEST_US, parse
from iot_routing import device_from_key

from join_dispatcher.status import FAILED, JOINED, RECEIVED, Answer

# Longer reasons are cut: they are for people reading a status page, and a device must not
# be able to grow a row without bound.
MAX_REASON_LENGTH = 500

_STATUSES = {
    JoinStatus.JOIN_STATUS_RECEIVED: RECEIVED,
    JoinStatus.JOIN_STATUS_JOINED: JOINED,
    JoinStatus.JOIN_STATUS_FAILED: FAILED,
}


@dataclass(frozen=True)
class RequestRef:
    """A join request to dispatch; its content is read from its row, which is authoritative."""

    request_id: uuid.UUID
    project: str


@dataclass(frozen=True)
class DeviceAnswer:
    """A device's acknowledgement of one request's JOIN."""

    request_id: uuid.UUID
    device_id: str
    answer: Answer


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidMessageError(f"invalid {what}: {value!r}") from exc


def sender_device(routing_key: str, user_id: str | None, claimed: str) -> str:
    """The device that sent a message: its routing key's, if user_id and body agree."""
    device_id = device_from_key(routing_key)
    if device_id is None:
        raise InvalidMessageError(f"invalid routing key: {routing_key!r} names no device")
    if user_id and user_id != device_id:
        raise InvalidMessageError(f"user mismatch: user {user_id!r} sent with key {routing_key!r}")
    if claimed != device_id:
        raise InvalidMessageError(f"device mismatch: body names {claimed!r}, key {routing_key!r}")
    return device_id


def decode_request(body: bytes) -> RequestRef:
    """A JoinRequest from the api-gateway: only its id (a UUID) and project are needed."""
    message = parse(JoinRequest, body)
    return RequestRef(_uuid(message.request_id, "request id"), message.project)


def decode_ack(body: bytes, routing_key: str, user_id: str | None) -> DeviceAnswer:
    """Parse and validate a JoinAck; raise InvalidMessageError with the reason otherwise."""
    message = parse(JoinAck, body)
    device_id = sender_device(routing_key, user_id, message.device_id)
    request_id = _uuid(message.request_id, "request id")
    status = _STATUSES.get(message.status)
    if status is None:
        raise InvalidMessageError(f"invalid status: {message.status}")
    if not message.HasField("acked_at"):
        raise InvalidMessageError("invalid time: acked_at missing")
    acked_us = message.acked_at.ToMicroseconds()
    if not 0 < acked_us < LATEST_US:
        raise InvalidMessageError(f"invalid time: acked_at at {acked_us} us")
    at = message.acked_at.ToDatetime(tzinfo=UTC)
    reason = message.reason[:MAX_REASON_LENGTH] or None
    return DeviceAnswer(request_id, device_id, Answer(status, reason, at))


def decode_pong(body: bytes, routing_key: str, user_id: str | None) -> str:
    """Parse and validate a DevicePong; the id of the device that answered."""
    message = parse(DevicePong, body)
    return sender_device(routing_key, user_id, message.device_id)
