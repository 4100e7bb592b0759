"""The generated RabbitMQ definitions: committed files current, queues exact, permissions tight.

Compose loads dependencies/rabbitmq/definitions.json at boot; Kubernetes gets the same
topology as Messaging Topology Operator resources (k8s/base/rabbitmq/topology.yaml) and the
users from users.yaml.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest
import yaml
from iot_devstack.definitions import (
    COMPOSE_DEFINITIONS,
    FIX,
    K8S_TOPOLOGY,
    K8S_USERS,
    local_dev_password,
    rendered,
    stale_files,
)
from iot_routing import DISPATCHER_QUEUES, SERVICE_QUEUES, QueueSpec
from iot_routing.access import PARTIES, SERVICES, Name, Party, all_queues, needs

from tests.support import REPO

SAMPLES = {
    "serial": ["SN-1", "abc"],
    "device": ["dev-0123456789abcdef", "dev-zzzzzzzzzzzzzzzz"],
    "project": ["p1", "solar-farm"],
    "group": ["g1", "roof"],
    "command": ["sleep", "awake", "change_sample_frequency"],
}


def _load(path: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO / path).read_text())
    return document


def _examples(name: Name) -> set[str]:
    """Concrete instances of a template: every parameter in two or three sample values."""
    found = {name.template}
    for word in name.parameters:
        found = {
            example.replace("{" + word.parameter + "}", value)
            for example in found
            for value in SAMPLES[word.parameter]
        }
    return found


def _all(names: tuple[Name, ...]) -> set[str]:
    return {example for name in names for example in _examples(name)}


def test_committed_files_are_what_the_generator_makes() -> None:
    stale = stale_files()
    assert not stale, f"stale generated files {[str(p) for p in stale]}: run {FIX}"


def test_the_generator_is_deterministic() -> None:
    assert rendered() == rendered()


def _specs() -> list[QueueSpec]:
    specs = [*SERVICE_QUEUES, *DISPATCHER_QUEUES]
    return specs + [dead for spec in specs if (dead := spec.dead_letter) is not None]


def test_every_routing_queue_is_defined_with_its_exact_arguments() -> None:
    document = _load(COMPOSE_DEFINITIONS)
    queues = {queue["name"]: queue for queue in document["queues"]}
    assert set(queues) == {spec.name for spec in _specs()}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]}
    for spec in _specs():
        # What the services declare at run time; any difference and RabbitMQ refuses them.
        assert queues[spec.name]["arguments"] == spec.arguments, spec.name
        assert queues[spec.name]["durable"] is True
        assert {(spec.exchange.name, spec.name, key) for key in spec.bindings} <= bindings
    assert {e["name"]: e["type"] for e in document["exchanges"]} == {
        "iot": "topic",
        "iot.dead_letter": "topic",
    }


def _topology_resources() -> dict[str, list[dict[str, Any]]]:
    """kind -> the Topology Operator resources of topology.yaml."""
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in yaml.safe_load_all((REPO / K8S_TOPOLOGY).read_text()):
        assert resource["apiVersion"] == "rabbitmq.com/v1beta1"
        assert resource["spec"]["rabbitmqClusterReference"] == {"name": "rabbitmq"}
        assert "namespace" not in resource["metadata"]  # kustomize sets it per overlay
        found.setdefault(resource["kind"], []).append(resource)
    return found


def test_k8s_topology_declares_every_routing_queue_exactly_as_the_services_do() -> None:
    resources = _topology_resources()
    assert set(resources) == {"Exchange", "Queue", "Binding", "Policy"}
    queues = {q["spec"]["name"]: q["spec"] for q in resources["Queue"]}
    assert set(queues) == {spec.name for spec in _specs()}
    for spec in _specs():
        queue = queues[spec.name]
        # The operator and the services declare the same queue; RabbitMQ refuses whichever
        # comes second if anything differs.
        assert queue["arguments"] == spec.arguments, spec.name
        assert queue["type"] == spec.queue_type == "quorum"
        assert queue["durable"] is True
        assert queue["autoDelete"] is False
        assert queue["vhost"] == "/"
    bindings = {
        (b["spec"]["source"], b["spec"]["destination"], b["spec"]["routingKey"])
        for b in resources["Binding"]
    }
    assert {b["spec"]["destinationType"] for b in resources["Binding"]} == {"queue"}
    assert bindings == {
        (spec.exchange.name, spec.name, key) for spec in _specs() for key in spec.bindings
    }
    exchanges = {e["spec"]["name"]: e["spec"] for e in resources["Exchange"]}
    assert {name: (e["type"], e["durable"]) for name, e in exchanges.items()} == {
        "iot": ("topic", True),
        "iot.dead_letter": ("topic", True),
    }


def test_k8s_topology_is_the_compose_topology() -> None:
    compose, resources = _load(COMPOSE_DEFINITIONS), _topology_resources()
    policies = {
        p["spec"]["name"]: {
            "vhost": p["spec"]["vhost"],
            "name": p["spec"]["name"],
            "pattern": p["spec"]["pattern"],
            "apply-to": p["spec"]["applyTo"],
            "definition": p["spec"]["definition"],
            "priority": p["spec"]["priority"],
        }
        for p in resources["Policy"]
    }
    assert policies == {p["name"]: p for p in compose["policies"]}
    bindings = sorted(
        (b["spec"]["vhost"], b["spec"]["source"], b["spec"]["destination"], b["spec"]["routingKey"])
        for b in resources["Binding"]
    )
    assert bindings == sorted(
        (b["vhost"], b["source"], b["destination"], b["routing_key"]) for b in compose["bindings"]
    )
    assert len(resources["Queue"]) == len(compose["queues"])


def test_k8s_topology_resource_names_are_dns_labels_and_unique() -> None:
    for kind, found in _topology_resources().items():
        names = [r["metadata"]["name"] for r in found]
        assert len(names) == len(set(names)), kind
        for name in names:
            assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name


def test_local_dev_password_hashes_are_rabbitmqs_sha256_of_the_documented_passwords() -> None:
    for user in _load(COMPOSE_DEFINITIONS)["users"]:
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        password = local_dev_password(user["name"]).encode()
        assert digest == hashlib.sha256(salt + password).digest(), user["name"]


def test_users_are_the_services_plus_admin_and_monitoring() -> None:
    users = {u["name"]: u["tags"] for u in _load(COMPOSE_DEFINITIONS)["users"]}
    assert users == {
        "admin": ["administrator"],
        "monitoring": ["monitoring"],
        "api-gateway": [],
        "sensor-registry": [],
        "measurements-ingester": [],
        "logs-ingester": [],
        "join-dispatcher": [],
        "sensor-simulator": [],
    }
    granted = {p["user"] for p in _load(COMPOSE_DEFINITIONS)["permissions"]}
    assert "monitoring" not in granted  # metrics and the management API need no vhost access


def _universe() -> set[str]:
    """Every concrete exchange and queue name any party may touch."""
    names = {"iot", "iot.dead_letter"}
    for queue in all_queues():
        names |= _examples(queue.name)
    return names


def _granted(document: dict[str, Any], user: str) -> dict[str, str]:
    (entry,) = [p for p in document["permissions"] if p["user"] == user]
    return {kind: entry[kind] for kind in ("configure", "write", "read")}


def _matches(regex: str, name: str) -> bool:
    # RabbitMQ searches (re:run), unanchored: the expressions must anchor themselves.
    return re.search(regex, name) is not None


@pytest.mark.parametrize("party", SERVICES, ids=lambda party: party.name)
def test_a_service_may_touch_exactly_the_names_it_needs(party: Party) -> None:
    granted = _granted(_load(COMPOSE_DEFINITIONS), party.name)
    need = needs(party)
    for kind, names in (("configure", need.configure), ("write", need.write), ("read", need.read)):
        regex = granted[kind]
        assert regex.startswith("^") and regex.endswith("$"), regex
        wanted = _all(names)
        allowed = {name for name in _universe() if _matches(regex, name)}
        assert allowed == wanted & _universe(), (party.name, kind)


def test_examples_of_separation() -> None:
    document = _load(COMPOSE_DEFINITIONS)
    ingester = _granted(document, "measurements-ingester")
    assert not _matches(ingester["read"], "sensor.all.logs")
    assert _matches(ingester["read"], "sensor.all.measurements.db_writer")
    assert not _matches(ingester["configure"], "sensor.all.logs.dead_letter")
    logs = _granted(document, "logs-ingester")
    assert not _matches(logs["read"], "sensor.all.measurements.db_writer")
    gateway = _granted(document, "api-gateway")
    assert _matches(gateway["configure"], "device.dev-0123456789abcdef.client.inbox")
    assert not _matches(gateway["read"], "device.dev-0123456789abcdef.client.inbox")
    assert not _matches(gateway["configure"], "sensor.all.measurements.db_writer")
    # Names with a suffix or a prefix are not the name.
    assert not _matches(ingester["read"], "sensor.all.measurements.db_writer.x")
    assert not _matches(ingester["read"], "x.sensor.all.measurements.db_writer")


def test_a_sensor_may_touch_no_queue_but_its_own_command_queue() -> None:
    # Sensors are the untrusted edge: configure would let one delete the ingesters' queues,
    # read would let it take every sensor's logs. The definitions create those queues.
    document = _load(COMPOSE_DEFINITIONS)
    simulator = _granted(document, "sensor-simulator")
    for spec in _specs():
        for kind in ("configure", "write", "read"):
            assert not _matches(simulator[kind], spec.name), (kind, spec.name)
    for kind in ("configure", "write", "read"):
        assert _matches(simulator[kind], "sensor.SN-1.commands"), kind
        assert not _matches(simulator[kind], "sensor.SN-1.commands.x"), kind
    _, dead_letter_bindings = _topics(document, "sensor-simulator", "iot.dead_letter")
    assert dead_letter_bindings == "^$"
    # Configure on an exchange includes deleting it (and with it every binding).
    assert not _matches(simulator["configure"], "iot")
    assert not _matches(simulator["configure"], "iot.dead_letter")


def _topics(document: dict[str, Any], user: str, exchange: str) -> tuple[str, str]:
    (entry,) = [
        t for t in document["topic_permissions"] if t["user"] == user and t["exchange"] == exchange
    ]
    return entry["write"], entry["read"]


@pytest.mark.parametrize("party", SERVICES, ids=lambda party: party.name)
def test_topic_permissions_allow_exactly_the_keys_a_service_publishes_and_binds(
    party: Party,
) -> None:
    document = _load(COMPOSE_DEFINITIONS)
    every_key = _all(tuple(route.key for p in PARTIES for route in p.publishes))
    every_binding = {binding for queue in all_queues() for binding in _all(queue.bindings)}
    need = needs(party)
    for exchange in ("iot", "iot.dead_letter"):
        write, read = _topics(document, party.name, exchange)
        published = _all(need.topic_write[exchange])
        assert {key for key in every_key if _matches(write, key)} == published & every_key
        bound = _all(need.topic_read[exchange])
        assert {key for key in every_binding if _matches(read, key)} == bound & every_binding
    write, _ = _topics(document, "sensor-simulator", "iot")
    assert _matches(write, "sensor.SN-1.measurements")
    assert not _matches(write, "sensor.SN-1.commands.sleep")
    assert not _matches(write, "project.p1.join_requests")


def test_policies_are_disjoint_and_never_repeat_a_queue_argument() -> None:
    document = _load(COMPOSE_DEFINITIONS)
    for queue in all_queues():
        for name in _examples(queue.name):
            applying = [p for p in document["policies"] if _matches(p["pattern"], name)]
            assert len(applying) <= 1, (name, [p["name"] for p in applying])
            for policy in applying:
                for key in policy["definition"]:
                    assert f"x-{key}" not in queue.arguments, (name, key)
    applied = {
        p["name"]
        for p in document["policies"]
        for queue in all_queues()
        for name in _examples(queue.name)
        if _matches(p["pattern"], name)
    }
    assert applied == {p["name"] for p in document["policies"]}  # none is dead


def test_k8s_users_mirror_the_compose_permissions() -> None:
    resources = list(yaml.safe_load_all((REPO / K8S_USERS).read_text()))
    compose = _load(COMPOSE_DEFINITIONS)
    users = {r["metadata"]["name"]: r for r in resources if r["kind"] == "User"}
    assert set(users) == {party.name for party in SERVICES} | {"monitoring"}
    for name, user in users.items():
        assert user["apiVersion"] == "rabbitmq.com/v1beta1"
        assert "namespace" not in user["metadata"]
        assert user["spec"]["importCredentialsSecret"] == {"name": f"rabbitmq-user-{name}"}
        assert user["spec"]["rabbitmqClusterReference"] == {"name": "rabbitmq"}
    permissions = {
        r["spec"]["userReference"]["name"]: r["spec"]["permissions"]
        for r in resources
        if r["kind"] == "Permission"
    }
    assert permissions == {party.name: _granted(compose, party.name) for party in SERVICES}
    topics = {
        (r["spec"]["userReference"]["name"], r["spec"]["permissions"]["exchange"]): (
            r["spec"]["permissions"]["write"],
            r["spec"]["permissions"]["read"],
        )
        for r in resources
        if r["kind"] == "TopicPermission"
    }
    assert topics == {
        (t["user"], t["exchange"]): (t["write"], t["read"]) for t in compose["topic_permissions"]
    }
    for resource in resources:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", resource["metadata"]["name"])
