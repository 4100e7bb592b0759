"""Generate (or check) the RabbitMQ definitions and users from libs/routing.

Three files come out of ``iot_routing.access``, the table of who does what on the broker:

- ``dependencies/rabbitmq/definitions.json`` (compose): vhost "/", both exchanges, the fan-in
  queues with their dead-letter queues and bindings, the policies, and one user per service with
  least-privilege permissions, plus ``admin`` and ``monitoring``. The password hashes are of
  LOCAL DEVELOPMENT passwords (``<user>-local-dev-only``) with a salt derived from the user name,
  so the file is reproducible; they must never protect anything but a developer's machine.
- ``k8s/base/rabbitmq/definitions.json``: the same topology without users and permissions.
- ``k8s/base/rabbitmq/users.yaml``: the Messaging Topology Operator's User, Permission and
  TopicPermission resources with the same expressions; credentials come from Secrets.

Run ``python -m iot_devstack.definitions --write`` after changing libs/routing, and
``--check`` in CI (exit 1 when a committed file differs).
"""

from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parents[3]
COMPOSE_DEFINITIONS = Path("dependencies/rabbitmq/definitions.json")
K8S_DEFINITIONS = Path("k8s/base/rabbitmq/definitions.json")
K8S_USERS = Path("k8s/base/rabbitmq/users.yaml")
VHOST = "/"
HASHING = "rabbit_password_hashing_sha256"
ADMIN = "admin"
MONITORING = "monitoring"
CLUSTER = "rabbitmq"  # the RabbitmqCluster resource's name (k8s)
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


def k8s_definitions() -> dict[str, Any]:
    """The topology only: the Topology Operator manages users from Secrets (users.yaml)."""
    return {"vhosts": [{"name": VHOST}], **_topology()}


def _k8s_name(name: str) -> str:
    return name.replace(".", "-").replace("_", "-")


def k8s_users() -> list[dict[str, Any]]:
    """User, Permission and TopicPermission resources (namespace left to kustomize)."""
    cluster = {"name": CLUSTER}
    resources: list[dict[str, Any]] = []
    users = [(MONITORING, ["monitoring"], None), *((p.name, [], p) for p in SERVICES)]
    for name, tags, party in users:
        resources.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "User",
                "metadata": {"name": name},
                "spec": {
                    "tags": tags,
                    "rabbitmqClusterReference": cluster,
                    # keys `username` (= the resource name) and `password`
                    "importCredentialsSecret": {"name": f"rabbitmq-user-{name}"},
                },
            }
        )
        if party is None:
            continue
        granted = permissions(party)
        resources.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "Permission",
                "metadata": {"name": name},
                "spec": {
                    "vhost": VHOST,
                    "userReference": {"name": name},
                    "permissions": {
                        "configure": granted.configure,
                        "write": granted.write,
                        "read": granted.read,
                    },
                    "rabbitmqClusterReference": cluster,
                },
            }
        )
        resources += [
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "TopicPermission",
                "metadata": {"name": f"{name}-{_k8s_name(exchange)}"},
                "spec": {
                    "vhost": VHOST,
                    "userReference": {"name": name},
                    "permissions": {"exchange": exchange, "write": write, "read": read},
                    "rabbitmqClusterReference": cluster,
                },
            }
            for exchange, (write, read) in granted.topics.items()
        ]
    return resources


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def rendered() -> dict[Path, str]:
    """Every generated file (path relative to the repository) and its content."""
    header = (
        "# Generated by `python -m iot_devstack.definitions --write` from libs/routing"
        " (iot_routing.access); do not edit.\n"
        "# Each Secret rabbitmq-user-<name> holds `username` and `password`.\n"
    )
    users = yaml.safe_dump_all(k8s_users(), sort_keys=False, explicit_start=True, width=1000)
    return {
        COMPOSE_DEFINITIONS: _json(compose_definitions()),
        K8S_DEFINITIONS: _json(k8s_definitions()),
        K8S_USERS: header + users,
    }


def stale_files(root: Path = REPO) -> list[Path]:
    """The generated files that are missing or differ from what the code generates now."""
    return [
        path
        for path, content in rendered().items()
        if not (root / path).exists() or (root / path).read_text() != content
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the files")
    mode.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            names = ", ".join(str(path) for path in stale)
            print(f"RabbitMQ definitions are stale ({names}); run {FIX}", file=sys.stderr)
            return 1
        print("RabbitMQ definitions are up to date")
        return 0
    for path, content in rendered().items():
        (REPO / path).parent.mkdir(parents=True, exist_ok=True)
        (REPO / path).write_text(content)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
