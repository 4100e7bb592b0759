"""The device broker permissions, checked over every combination of a universe of names.

For each question kind the test enumerates vhosts, resource kinds, names, permissions and
routing keys that a device might try (its own, its group's, another group's, another project's,
the platform's, wildcards and junk) and asserts that exactly the combinations SPEC.md grants
are allowed, and that every denial says why.
"""

from __future__ import annotations

import itertools

import pytest
from api_gateway.broker_auth.policy import (
    DevicePolicy,
    DeviceRecord,
    ResourceQuestion,
    TopicQuestion,
    device_grants,
)
from iot_routing import (
    DEAD_LETTER_EXCHANGE,
    DISPATCHER_QUEUES,
    EXCHANGE,
    device_queue_name,
    join_acks_key,
    join_key,
    join_requests_key,
    ping_key,
    pongs_key,
)

VHOST = "/"
ME = DeviceRecord(id="dev-aaaaaaaaaaaaaaaa", project="p1", group="g1", revoked=False)
PEER = DeviceRecord(id="dev-bbbbbbbbbbbbbbbb", project="p1", group="g1", revoked=False)
OTHER_GROUP = DeviceRecord(id="dev-cccccccccccccccc", project="p1", group="g2", revoked=False)
OTHER_PROJECT = DeviceRecord(id="dev-dddddddddddddddd", project="p2", group="g1", revoked=False)
OTHERS = (PEER, OTHER_GROUP, OTHER_PROJECT)

POLICY = DevicePolicy(VHOST)
VHOSTS = (VHOST, "", "other", "%2F", "/ ")
PERMISSIONS = ("configure", "write", "read", "", "READ", "all")
RESOURCE_KINDS = ("queue", "exchange", "topic", "", "QUEUE", "binding")
QUEUES = (
    device_queue_name(ME.id),
    *(device_queue_name(other.id) for other in OTHERS),
    *(queue.name for queue in DISPATCHER_QUEUES),
    f"{device_queue_name(ME.id)}.x",
    f"device.{ME.id}.client",
    "amq.gen-abc",
    "",
)
EXCHANGES = (EXCHANGE.name, DEAD_LETTER_EXCHANGE.name, "", "amq.default", "amq.topic", "IOT")
ROUTING_KEYS = (
    *(join_key(d.project, d.group, d.id) for d in (ME, *OTHERS)),
    *(ping_key(d.project, d.group) for d in (ME, OTHER_GROUP, OTHER_PROJECT)),
    *(join_acks_key(d.id) for d in (ME, PEER)),
    *(pongs_key(d.id) for d in (ME, PEER)),
    join_requests_key("p1"),
    "#",
    "*",
    "project.p1.group.g1.#",
    "project.p1.group.g1.join.*",
    "project.p1.group.*.ping",
    "device.*.pongs",
    f"device.{ME.id}.#",
    f"device.{ME.id}.*",
    f"{join_key(ME.project, ME.group, ME.id)}.#",
    "",
)

OWN_RESOURCES = {
    (VHOST, "queue", device_queue_name(ME.id), "read"),
    (VHOST, "queue", device_queue_name(ME.id), "write"),
    (VHOST, "exchange", EXCHANGE.name, "read"),
    (VHOST, "exchange", EXCHANGE.name, "write"),
}
OWN_TOPICS = {
    (VHOST, "topic", EXCHANGE.name, "read", join_key(ME.project, ME.group, ME.id)),
    (VHOST, "topic", EXCHANGE.name, "read", ping_key(ME.project, ME.group)),
    (VHOST, "topic", EXCHANGE.name, "write", join_acks_key(ME.id)),
    (VHOST, "topic", EXCHANGE.name, "write", pongs_key(ME.id)),
}
REVOKED = DeviceRecord(ME.id, ME.project, ME.group, revoked=True)


def _resource_combinations() -> list[tuple[str, str, str, str]]:
    names = (*QUEUES, *EXCHANGES)
    return list(itertools.product(VHOSTS, RESOURCE_KINDS, names, PERMISSIONS))


def _topic_combinations() -> list[tuple[str, str, str, str, str]]:
    return list(itertools.product(VHOSTS, RESOURCE_KINDS, EXCHANGES, PERMISSIONS, ROUTING_KEYS))


def test_the_universe_holds_every_grant() -> None:
    assert set(_resource_combinations()) >= OWN_RESOURCES
    assert set(_topic_combinations()) >= OWN_TOPICS


def test_resources_allowed_are_exactly_own_queue_and_iot_read_write() -> None:
    allowed = set()
    for combination in _resource_combinations():
        decision = POLICY.resource_access(ME, ResourceQuestion(*combination))
        assert decision.reason, combination
        if decision.allowed:
            allowed.add(combination)
    assert allowed == OWN_RESOURCES


def test_topics_allowed_are_exactly_own_binding_and_publishing_keys() -> None:
    allowed = set()
    for combination in _topic_combinations():
        decision = POLICY.topic_access(ME, TopicQuestion(*combination))
        assert decision.reason, combination
        if decision.allowed:
            allowed.add(combination)
    assert allowed == OWN_TOPICS


@pytest.mark.parametrize("device", [None, REVOKED], ids=["unknown", "revoked"])
def test_unknown_or_revoked_devices_get_nothing(device: DeviceRecord | None) -> None:
    assert not POLICY.login(device, password_matches=True).allowed
    for vhost in VHOSTS:
        assert not POLICY.vhost_access(device, vhost).allowed
    for resource in OWN_RESOURCES:
        assert not POLICY.resource_access(device, ResourceQuestion(*resource)).allowed
    for topic in OWN_TOPICS:
        assert not POLICY.topic_access(device, TopicQuestion(*topic)).allowed


def test_login_needs_a_known_unrevoked_device_and_the_right_password() -> None:
    assert POLICY.login(ME, password_matches=True).allowed
    assert POLICY.login(ME, password_matches=False).reason == "wrong password"
    assert POLICY.login(None, password_matches=True).reason == "unknown device"
    assert POLICY.login(REVOKED, password_matches=True).reason == "device revoked"


def test_only_the_device_vhost_is_allowed() -> None:
    assert [v for v in VHOSTS if POLICY.vhost_access(ME, v).allowed] == [VHOST]
    assert POLICY.vhost_access(ME, "other").reason == "not the device vhost"


def test_the_device_vhost_is_configurable() -> None:
    policy = DevicePolicy("devices")
    assert policy.vhost_access(ME, "devices").allowed
    assert not policy.vhost_access(ME, "/").allowed
    own_queue = ResourceQuestion("devices", "queue", device_queue_name(ME.id), "read")
    assert policy.resource_access(ME, own_queue).allowed
    assert not POLICY.resource_access(ME, own_queue).allowed


def test_every_device_gets_the_same_rules_for_its_own_names() -> None:
    for device in OTHERS:
        grants = device_grants(device)
        assert grants.queue == device_queue_name(device.id)
        for key in grants.bind_keys:
            question = TopicQuestion(VHOST, "topic", "iot", "read", key)
            assert POLICY.topic_access(device, question).allowed
        for key in grants.publish_keys:
            question = TopicQuestion(VHOST, "topic", "iot", "write", key)
            assert POLICY.topic_access(device, question).allowed
        # ... and the group's ping is shared, the JOIN key is not.
        mine = join_key(ME.project, ME.group, ME.id)
        question = TopicQuestion(VHOST, "topic", "iot", "read", mine)
        assert not POLICY.topic_access(device, question).allowed


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        (ResourceQuestion(VHOST, "queue", QUEUES[0], "configure"), "devices configure nothing"),
        (ResourceQuestion(VHOST, "queue", QUEUES[0], "all"), "unknown permission 'all'"),
        (ResourceQuestion(VHOST, "binding", QUEUES[0], "read"), "unknown resource kind"),
        (ResourceQuestion(VHOST, "queue", QUEUES[1], "read"), "not the device's"),
        (ResourceQuestion(VHOST, "exchange", "amq.topic", "write"), "not the device's"),
        (ResourceQuestion("other", "queue", QUEUES[0], "read"), "not the device vhost"),
    ],
)
def test_resource_denials_say_why(question: ResourceQuestion, reason: str) -> None:
    decision = POLICY.resource_access(ME, question)
    assert not decision.allowed
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        (TopicQuestion(VHOST, "queue", "iot", "read", "#"), "unknown resource kind"),
        (TopicQuestion(VHOST, "topic", "amq.topic", "read", "#"), "exchange 'amq.topic'"),
        (TopicQuestion(VHOST, "topic", "iot", "configure", "#"), "not granted on topics"),
        (TopicQuestion(VHOST, "topic", "iot", "read", "#"), "not the device's to read"),
        (TopicQuestion(VHOST, "topic", "iot", "write", "#"), "not the device's to write"),
    ],
)
def test_topic_denials_say_why(question: TopicQuestion, reason: str) -> None:
    decision = POLICY.topic_access(ME, question)
    assert not decision.allowed
    assert reason in decision.reason


def test_a_record_that_names_nothing_valid_is_denied_not_an_error() -> None:
    broken = DeviceRecord(id=ME.id, project="Not A Slug", group="g1", revoked=False)
    question = ResourceQuestion(VHOST, "exchange", "iot", "write")
    assert POLICY.resource_access(broken, question).reason.startswith("device record")
    topic = TopicQuestion(VHOST, "topic", "iot", "write", join_acks_key(ME.id))
    assert not POLICY.topic_access(broken, topic).allowed


def test_answers_are_the_words_rabbitmq_expects() -> None:
    assert POLICY.login(ME, password_matches=True).answer == "allow"
    assert POLICY.login(ME, password_matches=False).answer == "deny"
