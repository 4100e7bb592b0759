"""Device names: what a device queue binds, what the broker lets a device do, and the keys the
dispatcher and the devices use, exactly as documented."""

from __future__ import annotations

import pytest
from iot_routing import (
    DISPATCHER_QUEUES,
    JOIN_ACKS,
    JOIN_REQUESTS,
    PONGS,
    InvalidNameError,
    device_from_key,
    device_queue,
    is_device_id,
    join_acks_key,
    join_key,
    join_requests_key,
    message_kind,
    new_device_id,
    ping_key,
    pongs_key,
    validate_device_id,
    validate_slug,
)

DEVICE = "dev-0123456789abcdef"
OTHER = "dev-fedcba9876543210"


def _matches(binding: str, key: str) -> bool:
    """AMQP topic matching for bindings without '#' ('*' is exactly one word)."""
    assert "#" not in binding
    words, key_words = binding.split("."), key.split(".")
    if len(words) != len(key_words):
        return False
    return all(w in ("*", k) for w, k in zip(words, key_words, strict=True))


def test_device_keys_and_queue_names() -> None:
    assert join_key("lab", "a", DEVICE) == f"project.lab.group.a.join.{DEVICE}"
    assert ping_key("lab", "a") == "project.lab.group.a.ping"
    assert join_acks_key(DEVICE) == f"device.{DEVICE}.join_acks"
    assert pongs_key(DEVICE) == f"device.{DEVICE}.pongs"
    assert join_requests_key("lab") == "project.lab.join_requests"
    assert device_queue("lab", "a", DEVICE).name == f"device.{DEVICE}.client.inbox"


def test_a_device_queue_binds_only_its_own_join_and_its_groups_ping() -> None:
    queue = device_queue("lab", "a", DEVICE)
    assert queue.bindings == (join_key("lab", "a", DEVICE), ping_key("lab", "a"))
    assert queue.arguments["x-queue-type"] == "quorum"
    assert "x-dead-letter-exchange" not in queue.arguments
    assert queue.arguments["x-delivery-limit"] > 0
    # Nothing of another device (even in the same group) or another group reaches it.
    for key in (join_key("lab", "a", OTHER), join_key("lab", "b", DEVICE), ping_key("lab", "b")):
        assert not any(_matches(binding, key) for binding in queue.bindings)


def test_dispatcher_queues_take_every_devices_answers_and_every_request() -> None:
    assert JOIN_REQUESTS.name == "project.all.join_requests.dispatcher"
    assert JOIN_ACKS.name == "device.all.join_acks.dispatcher"
    assert PONGS.name == "device.all.pongs.presence"
    assert DISPATCHER_QUEUES == (JOIN_REQUESTS, JOIN_ACKS, PONGS)
    assert _matches(JOIN_REQUESTS.bindings[0], join_requests_key("lab"))
    assert _matches(JOIN_ACKS.bindings[0], join_acks_key(DEVICE))
    assert _matches(PONGS.bindings[0], pongs_key(DEVICE))
    assert not _matches(JOIN_ACKS.bindings[0], pongs_key(DEVICE))


def test_keys_are_parsed_back() -> None:
    assert message_kind(join_key("lab", "a", DEVICE)) == "join"
    assert message_kind(ping_key("lab", "a")) == "ping"
    assert message_kind("sensor.x.commands.sleep") is None
    assert device_from_key(join_acks_key(DEVICE)) == DEVICE
    assert device_from_key(pongs_key(DEVICE)) == DEVICE
    assert device_from_key("device.all.join_acks") is None
    assert device_from_key("device.dev-x.pongs") is None


@pytest.mark.parametrize("slug", ["", "all", "Lab", "a.b", "a*", "-lab", "x" * 64, "a b"])
def test_invalid_project_and_group_ids_are_refused(slug: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_slug("project", slug)


@pytest.mark.parametrize(
    "device_id", ["dev-", "dev-0123456789ABCDEF", "dev-0123", "x-0123456789abcdef"]
)
def test_invalid_device_ids_are_refused(device_id: str) -> None:
    assert not is_device_id(device_id)
    with pytest.raises(InvalidNameError):
        validate_device_id(device_id)
    with pytest.raises(InvalidNameError):
        join_acks_key(device_id)


def test_new_device_ids_are_valid_and_distinct() -> None:
    ids = {new_device_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_device_id(device_id) for device_id in ids)
