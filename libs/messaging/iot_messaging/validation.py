"""Checks every sensor message goes through before its service looks at the content."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from iot_routing import InvalidSerialError, validate_serial

from iot_messaging.consumer import InvalidMessageError

M = TypeVar("M", bound=Message)
MAX_SEQUENCE = 2**63 - 1  # sequences are stored as bigint
LATEST_US = 7_258_118_400_000_000  # 2200-01-01: later times are broken clocks


def parse(message_type: type[M], body: bytes) -> M:
    """Decode a protobuf body or raise InvalidMessageError('undecodable: ...')."""
    try:
        return message_type.FromString(body)
    except DecodeError as exc:
        raise InvalidMessageError(f"undecodable: {exc}") from exc


def sender_serial(serial: str, routing_key: str) -> str:
    """The message's serial, if valid and the same as the one in its routing key.

    The routing key names the publisher (sensor.<serial>.<kind>); a message claiming another
    sensor's serial is refused.
    """
    try:
        validate_serial(serial)
    except InvalidSerialError as exc:
        raise InvalidMessageError(f"invalid serial: {exc}") from exc
    if routing_key.split(".")[1:2] != [serial]:
        raise InvalidMessageError(f"serial mismatch: {serial!r} sent with key {routing_key!r}")
    return serial


def sequence(value: int) -> int:
    """A per-sensor idempotency key: positive and storable."""
    if not 0 < value <= MAX_SEQUENCE:
        raise InvalidMessageError(f"invalid sequence: {value}")
    return value
