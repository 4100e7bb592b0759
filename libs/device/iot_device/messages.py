"""Decoding what arrives on a device's queue and building the device's answers (protobuf)."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import DevicePing, DevicePong, JoinAck, JoinStatus, SessionJoin


class InvalidDeviceMessageError(ValueError):
    """A message the device can never act on; it is rejected (dropped) with this reason."""


def decode_join(body: bytes, device_id: str) -> SessionJoin:
    """A SessionJoin meant for this device, or InvalidDeviceMessageError."""
    try:
        join = SessionJoin.FromString(body)
    except DecodeError as exc:
        raise InvalidDeviceMessageError(f"undecodable SessionJoin: {exc}") from exc
    if join.device_id != device_id:
        # Routing makes this impossible unless the dispatcher is broken: never act on a JOIN
        # (and its token) addressed to someone else.
        raise InvalidDeviceMessageError(f"JOIN addressed to device {join.device_id!r}")
    if not join.request_id:
        raise InvalidDeviceMessageError("JOIN without a request id")
    if not join.HasField("deadline"):
        raise InvalidDeviceMessageError("JOIN without a deadline")
    return join


def decode_ping(body: bytes) -> DevicePing:
    """A DevicePing with a ping id, or InvalidDeviceMessageError."""
    try:
        ping = DevicePing.FromString(body)
    except DecodeError as exc:
        raise InvalidDeviceMessageError(f"undecodable DevicePing: {exc}") from exc
    if not ping.ping_id:
        raise InvalidDeviceMessageError("ping without a ping id")
    return ping


def _timestamp(now_ns: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(now_ns)
    return stamp


def join_ack(join: SessionJoin, status: JoinStatus, now_ns: int, reason: str = "") -> JoinAck:
    """This device's answer to a JOIN."""
    return JoinAck(
        request_id=join.request_id,
        device_id=join.device_id,
        status=status,
        reason=reason,
        acked_at=_timestamp(now_ns),
    )


def pong(ping: DevicePing, device_id: str, now_ns: int) -> DevicePong:
    """This device's answer to a ping."""
    return DevicePong(ping_id=ping.ping_id, device_id=device_id, answered_at=_timestamp(now_ns))
