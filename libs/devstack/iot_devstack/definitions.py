"""Generate (or check) the RabbitMQ definitions and users from libs/routing.

Three files come out of ``iot_routing.access``, the table of who does what on the broker:

- ``dependencies/rabbitmq/definitions.json`` (compose): vhost "/", both exchanges, the fan-in
  queues with their dead-letter queues and bindings, the policies, and one user per service with
  least-privilege permissions, plus ``admin`` and ``monitoring``. The password hashes are of
  LOCAL DEVELOPMENT passwords (``<user>-local-dev-only``) with a salt derived from the user name,
  so the file is reproducible; they must never protect anything but a developer's machine.
- ``k8s/base/rabbitmq/topology.yaml``: the same topology as Messaging Topology Operator
  resources (Exchange, Queue, Binding, Policy). Kubernetes does not load definitions at boot:
  a node with definitions to load skips seeding its default user, which the Cluster Operator
  and the Topology Operator log in with.
- ``k8s/base/rabbitmq/users.yaml``: the Messaging Topology Operator's User, Permission and
  TopicPermission resources with the same expressions; credentials come from Secrets.

Run ``python -m iot_devstack.definitions --write`` after changing libs/routing, and
``--check`` in CI (exit 1 when a committed file differs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from iot_routing.access import (
    DEVICE_INBOX,
    EXCHANGES,
    SENSOR_COMMANDS_QUEUE,
    SERVICES,
    Name,
    Party,
    Queue,
    all_queues,
    needs,
    union,
)

from iot_devstack.generated import REPO, files_main, stale_paths

COMPOSE_DEFINITIONS = Path("dependencies/rabbitmq/definitions.json")
K8S_TOPOLOGY = Path("k8s/base/rabbitmq/topology.yaml")
K8S_USERS = Path("k8s/base/rabbitmq/users.yaml")
VHOST = "/"
HASHING = "rabbit_password_hashing_sha256"
ADMIN = "admin"
MONITORING = "monitoring"
CLUSTER = "rabbitmq"  # the RabbitmqCluster resource's name (k8s)
TOPOLOGY_API = "rabbitmq.com/v1beta1"
FIX = "python -m iot_devstack.definitions --write (make definitions)"


def local_dev_password(user: str) -> str:
    """The compose stack's password of a user: local development only, never deployed."""
    return f"{user}-local-dev-only"


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _salt(user: str) -> bytes:
    # Deterministic so that the committed file is reproducible; acceptable only because the
    # passwords are public local-development defaults anyway.
    return hashlib.sha256(f"iot-local-dev-salt:{user}".encode()).digest()[:4]


@dataclass(frozen=True)
class Permissions:
    """One user's vhost permissions and topic permissions (exchange -> (write, read))."""

    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]]


def _regex(names: Iterable[Name]) -> str:
    return union(name.regex for name in names)


def permissions(party: Party) -> Permissions:
    """Anchored expressions allowing exactly what the party needs (iot_routing.access.needs)."""
    need = needs(party)
    return Permissions(
        configure=_regex(need.configure),
        write=_regex(need.write),
        read=_regex(need.read),
        topics={
            exchange.name: (
                _regex(need.topic_write[exchange.name]),
                _regex(need.topic_read[exchange.name]),
            )
            for exchange in EXCHANGES
        },
    )


# Policies, one per kind of queue that has none of these keys among its arguments (a policy
# key that is also a queue argument would be decided by RabbitMQ's precedence rules, not by
# us, so the fan-in queues, which set x-overflow, get no policy). Only one policy applies to a
# queue, so the patterns are disjoint (tests check both).
@dataclass(frozen=True)
class Policy:
    name: str
    queues: tuple[Queue, ...]
    definition: dict[str, Any]
    why: str


def policies() -> tuple[Policy, ...]:
    dead_letters = tuple(dead for queue in all_queues() if (dead := queue.dead_letter) is not None)
    return (
        Policy(
            "sensor-commands",
            (SENSOR_COMMANDS_QUEUE,),
            {"max-length": 1000, "overflow": "reject-publish"},
            "A sensor that never comes back would collect commands forever. Refusing the"
            " 1001st makes the api-gateway report that command as failed (the broker nacks it)"
            " instead of silently dropping older ones.",
        ),
        Policy(
            "device-inboxes",
            (DEVICE_INBOX,),
            {"max-length": 100, "overflow": "drop-head"},
            "An offline device's queue collects its group's pings. Pings go to a whole group in"
            " one publish, so a full queue must not refuse it (reject-publish would nack the"
            " group's ping); the oldest messages, long expired, are dropped instead.",
        ),
        Policy(
            "dead-letter-queues",
            dead_letters,
            {"max-length-bytes": 1024**3, "overflow": "drop-head"},
            "Dead-lettered messages are kept for inspection, but must not fill the disk: past"
            " 1 GiB the oldest go. drop-head also never refuses a dead-lettering, which would"
            " hold messages back in the source queue (at-least-once dead-lettering).",
        ),
    )


def _topology() -> dict[str, Any]:
    concrete = sorted(
        (queue for queue in all_queues() if not queue.name.is_pattern),
        key=lambda queue: queue.name.template,
    )
    return {
        "policies": [
            {
                "vhost": VHOST,
                "name": policy.name,
                "pattern": union(queue.name.regex for queue in policy.queues),
                "apply-to": "queues",
                "definition": policy.definition,
                "priority": 0,
            }
            for policy in policies()
        ],
        "queues": [
            {
                "name": queue.name.template,
                "vhost": VHOST,
                "durable": True,
                "auto_delete": False,
                "arguments": queue.arguments,
            }
            for queue in concrete
        ],
        "exchanges": [
            {
                "name": exchange.name,
                "vhost": VHOST,
                "type": exchange.type,
                "durable": exchange.durable,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for exchange in EXCHANGES
        ],
        "bindings": [
            {
                "source": queue.exchange.name,
                "vhost": VHOST,
                "destination": queue.name.template,
                "destination_type": "queue",
                "routing_key": binding.template,
                "arguments": {},
            }
            for queue in concrete
            for binding in queue.bindings
        ],
    }


def _user(name: str, tags: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "password_hash": password_hash(local_dev_password(name), _salt(name)),
        "hashing_algorithm": HASHING,
        "tags": tags,
        "limits": {},
    }


def compose_definitions() -> dict[str, Any]:
    """Topology, users (local-dev passwords) and permissions, for compose."""
    service_permissions = [(party.name, permissions(party)) for party in SERVICES]
    return {
        "users": [
            _user(ADMIN, ["administrator"]),
            # Management API read access for dashboards; no vhost permissions at all.
            _user(MONITORING, ["monitoring"]),
            *(_user(party.name, []) for party in SERVICES),
        ],
        "vhosts": [{"name": VHOST}],
        "permissions": [
            {"user": ADMIN, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"},
            *(
                {
                    "user": name,
                    "vhost": VHOST,
                    "configure": granted.configure,
                    "write": granted.write,
                    "read": granted.read,
                }
                for name, granted in service_permissions
            ),
        ],
        "topic_permissions": [
            {"user": name, "vhost": VHOST, "exchange": exchange, "write": write, "read": read}
            for name, granted in service_permissions
            for exchange, (write, read) in granted.topics.items()
        ],
        **_topology(),
    }


def _k8s_name(name: str) -> str:
    return name.replace(".", "-").replace("_", "-")


def _resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": TOPOLOGY_API,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {**spec, "rabbitmqClusterReference": {"name": CLUSTER}},
    }


def _binding_name(binding: dict[str, Any]) -> str:
    # Named by content, so one binding always has one name: were a renamed resource applied
    # next to the old one, deleting the old one would delete the binding both stand for.
    identity = "\0".join(
        [
            binding["source"],
            binding["destination"],
            binding["destination_type"],
            binding["routing_key"],
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{_k8s_name(binding['destination'])}-{digest}"


def k8s_topology() -> list[dict[str, Any]]:
    """Exchange, Queue, Binding and Policy resources: the topology of the compose definitions.

    Built from the same table as the compose file, so the queues carry exactly the arguments
    the services declare (the operator's declaration and theirs must agree, or RabbitMQ
    refuses the later one). Users and permissions are in users.yaml.
    """
    topology = _topology()
    resources = [
        _resource(
            "Exchange",
            _k8s_name(exchange["name"]),
            {
                "name": exchange["name"],
                "vhost": exchange["vhost"],
                "type": exchange["type"],
                "durable": exchange["durable"],
                "autoDelete": exchange["auto_delete"],
            },
        )
        for exchange in topology["exchanges"]
    ]
    resources += [
        _resource(
            "Queue",
            _k8s_name(queue["name"]),
            {
                "name": queue["name"],
                "vhost": queue["vhost"],
                "type": queue["arguments"]["x-queue-type"],
                "durable": queue["durable"],
                "autoDelete": queue["auto_delete"],
                "arguments": queue["arguments"],
            },
        )
        for queue in topology["queues"]
    ]
    resources += [
        _resource(
            "Binding",
            _binding_name(binding),
            {
                "vhost": binding["vhost"],
                "source": binding["source"],
                "destination": binding["destination"],
                "destinationType": binding["destination_type"],
                "routingKey": binding["routing_key"],
            },
        )
        for binding in topology["bindings"]
    ]
    resources += [
        _resource(
            "Policy",
            _k8s_name(policy["name"]),
            {
                "name": policy["name"],
                "vhost": policy["vhost"],
                "pattern": policy["pattern"],
                "applyTo": policy["apply-to"],
                "definition": policy["definition"],
                "priority": policy["priority"],
            },
        )
        for policy in topology["policies"]
    ]
    return resources


def k8s_users() -> list[dict[str, Any]]:
    """User, Permission and TopicPermission resources (namespace left to kustomize)."""
    resources: list[dict[str, Any]] = []
    users = [(MONITORING, ["monitoring"], None), *((p.name, [], p) for p in SERVICES)]
    for name, tags, party in users:
        # The secret's keys: `username` (= the resource name) and `password`.
        secret = {"name": f"rabbitmq-user-{name}"}
        resources.append(_resource("User", name, {"tags": tags, "importCredentialsSecret": secret}))
        if party is None:
            continue
        granted = permissions(party)
        user = {"name": name}
        rights = {"configure": granted.configure, "write": granted.write, "read": granted.read}
        resources.append(
            _resource(
                "Permission", name, {"vhost": VHOST, "userReference": user, "permissions": rights}
            )
        )
        resources += [
            _resource(
                "TopicPermission",
                f"{name}-{_k8s_name(exchange)}",
                {
                    "vhost": VHOST,
                    "userReference": user,
                    "permissions": {"exchange": exchange, "write": write, "read": read},
                },
            )
            for exchange, (write, read) in granted.topics.items()
        ]
    return resources


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def _yaml(resources: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(resources, sort_keys=False, explicit_start=True, width=1000)


def rendered() -> dict[Path, str]:
    """Every generated file (path relative to the repository) and its content."""
    generated = (
        "# Generated by `python -m iot_devstack.definitions --write` from libs/routing"
        " (iot_routing.access); do not edit.\n"
    )
    users = generated + "# Each Secret rabbitmq-user-<name> holds `username` and `password`.\n"
    topology = (
        generated + "# The exchanges, fan-in queues (with their dead-letter queues), bindings and"
        " policies;\n# per-sensor and per-device queues are declared at run time by the services.\n"
    )
    return {
        COMPOSE_DEFINITIONS: _json(compose_definitions()),
        K8S_TOPOLOGY: topology + _yaml(k8s_topology()),
        K8S_USERS: users + _yaml(k8s_users()),
    }


def stale_files(root: Path = REPO) -> list[str]:
    """The generated files that are missing or differ from what the code generates now."""
    return stale_paths(rendered(), root)


def main(argv: list[str] | None = None) -> int:
    return files_main(
        argv,
        description=__doc__.split("\n", 1)[0],
        what="RabbitMQ definitions and k8s topology",
        fix=FIX,
        render=rendered,
    )


if __name__ == "__main__":
    sys.exit(main())
