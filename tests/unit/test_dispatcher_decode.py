"""Messages the dispatcher consumes: an answer counts only for the device that sent it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import DevicePong, JoinAck, JoinRequest, JoinStatus
from iot_messaging import InvalidMessageError
from iot_routing import join_acks_key, pongs_key
from join_dispatcher.decode import (
    MAX_REASON_LENGTH,
    decode_ack,
    decode_pong,
    decode_request,
    sender_device,
)
from join_dispatcher.status import FAILED, JOINED, RECEIVED

DEVICE = "dev-aaaaaaaaaaaaaaaa"
OTHER = "dev-bbbbbbbbbbbbbbbb"
REQUEST = str(uuid.uuid4())
WHEN = datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)


def stamp(at: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(at)
    return result


def ack(**changes: object) -> JoinAck:
    message = JoinAck(
        request_id=REQUEST,
        device_id=DEVICE,
        status=JoinStatus.JOIN_STATUS_JOINED,
        acked_at=stamp(WHEN),
    )
    for name, value in changes.items():
        if value is None:
            message.ClearField(name)
        else:
            setattr(message, name, value)
    return message


def test_a_valid_ack_is_attributed_to_its_routing_key_s_device() -> None:
    answer = decode_ack(ack().SerializeToString(), join_acks_key(DEVICE), DEVICE)
    assert (answer.request_id, answer.device_id) == (uuid.UUID(REQUEST), DEVICE)
    assert (answer.answer.status, answer.answer.reason, answer.answer.at) == (JOINED, None, WHEN)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(JoinStatus.JOIN_STATUS_RECEIVED, RECEIVED), (JoinStatus.JOIN_STATUS_FAILED, FAILED)],
)
def test_every_status_is_read(status: JoinStatus, expected: str) -> None:
    body = ack(status=status, reason="x").SerializeToString()
    assert decode_ack(body, join_acks_key(DEVICE), None).answer.status == expected


def test_a_long_reason_is_cut() -> None:
    body = ack(status=JoinStatus.JOIN_STATUS_FAILED, reason="r" * 5000).SerializeToString()
    reason = decode_ack(body, join_acks_key(DEVICE), None).answer.reason
    assert reason == "r" * MAX_REASON_LENGTH


@pytest.mark.parametrize(
    ("body", "key", "user_id", "reason"),
    [
        (ack(device_id=OTHER).SerializeToString(), join_acks_key(DEVICE), None, "device mismatch"),
        (ack().SerializeToString(), join_acks_key(DEVICE), OTHER, "user mismatch"),
        (ack().SerializeToString(), join_acks_key(DEVICE), "guest", "user mismatch"),
        (ack().SerializeToString(), "device.guest.join_acks", None, "invalid routing key"),
        (ack().SerializeToString(), "device.all.join_acks", None, "invalid routing key"),
        (b"\xff\xff", join_acks_key(DEVICE), None, "undecodable"),
        (ack(request_id="nope").SerializeToString(), join_acks_key(DEVICE), None, "invalid"),
        (
            ack(status=JoinStatus.JOIN_STATUS_UNSPECIFIED).SerializeToString(),
            join_acks_key(DEVICE),
            None,
            "invalid status",
        ),
        (ack(acked_at=None).SerializeToString(), join_acks_key(DEVICE), None, "invalid time"),
    ],
)
def test_invalid_acks_are_refused_with_a_reason(
    body: bytes, key: str, user_id: str | None, reason: str
) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        decode_ack(body, key, user_id)


def test_a_pong_names_its_sender() -> None:
    body = DevicePong(ping_id="p", device_id=DEVICE).SerializeToString()
    assert decode_pong(body, pongs_key(DEVICE), DEVICE) == DEVICE
    with pytest.raises(InvalidMessageError, match="device mismatch"):
        decode_pong(body, pongs_key(OTHER), None)


def test_an_empty_user_id_is_no_claim() -> None:
    assert sender_device(join_acks_key(DEVICE), "", DEVICE) == DEVICE


def test_a_request_needs_a_uuid() -> None:
    body = JoinRequest(request_id=REQUEST, project="p").SerializeToString()
    assert decode_request(body).request_id == uuid.UUID(REQUEST)
    with pytest.raises(InvalidMessageError, match="invalid request id"):
        decode_request(JoinRequest(request_id="7").SerializeToString())
