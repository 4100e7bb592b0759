"""The generated compose definitions on a real RabbitMQ node, and the services living with them.

A node of the test's own (tests/integration/device_broker.py, on free ports) boots with
`load_definitions` pointing at dependencies/rabbitmq/definitions.json, so it has exactly the
users, permissions, queues and policies compose gets, and no guest. The strongest check runs
the real services against it, each logged in as its own user with its local-dev password: if
a permission were missing, a service would fail to declare, bind, consume or publish, and the
rows below would never arrive.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiormq
import httpx
import pytest
from iot.v1.join_pb2 import JoinRequest
from iot_devstack.definitions import ADMIN, COMPOSE_DEFINITIONS, local_dev_password
from iot_messaging import declare_queue, publish_confirmed
from iot_routing import LOGS, join_requests_key
from iot_routing.access import DEVICE_INBOX, SENSOR_COMMANDS_QUEUE

from tests.integration.db_fixtures import TestDatabase
from tests.integration.device_broker import DeviceBroker, DeviceBrokerNode
from tests.integration.gateway_fixtures import create_key
from tests.integration.pipeline import Services, http_port, scalar
from tests.support import REPO, wait_until

pytestmark = pytest.mark.integration

DEFINITIONS = REPO / COMPOSE_DEFINITIONS
SERIAL = "defs-sensor-1"
LIVEKIT_SECRET = "test-livekit-secret-" + "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def node() -> Iterator[DeviceBroker]:
    """A node booted from the compose definitions (its own, stopped by PID afterwards)."""
    started = DeviceBrokerNode(
        definitions=DEFINITIONS, management_auth=(ADMIN, local_dev_password(ADMIN))
    )
    try:
        started.launch()
        yield started.ready()
    finally:
        started.stop()


def _url(node: DeviceBroker, user: str) -> str:
    return node.amqp_url_for(user, local_dev_password(user))


def _get(node: DeviceBroker, path: str) -> Any:
    with node.management() as api:
        reply = api.get(path)
        reply.raise_for_status()
        return reply.json()


def test_the_node_has_exactly_the_defined_topology_and_users(node: DeviceBroker) -> None:
    defined = json.loads(DEFINITIONS.read_text())
    vhost = quote("/", safe="")
    queues = {q["name"]: q["arguments"] for q in _get(node, f"/queues/{vhost}")}
    assert queues == {q["name"]: q["arguments"] for q in defined["queues"]}
    exchanges = {e["name"]: e["type"] for e in _get(node, f"/exchanges/{vhost}")}
    for exchange in defined["exchanges"]:
        assert exchanges[exchange["name"]] == exchange["type"]
    bindings = {
        (b["source"], b["destination"], b["routing_key"])
        for b in _get(node, f"/bindings/{vhost}")
        if b["source"]  # not the default exchange's implicit bindings
    }
    assert bindings == {
        (b["source"], b["destination"], b["routing_key"]) for b in defined["bindings"]
    }
    users = {u["name"]: sorted(u["tags"]) for u in _get(node, "/users")}
    assert users == {u["name"]: sorted(u["tags"]) for u in defined["users"]}
    assert "guest" not in users
    permissions = {
        p["user"]: (p["configure"], p["write"], p["read"]) for p in _get(node, "/permissions")
    }
    assert permissions == {
        p["user"]: (p["configure"], p["write"], p["read"]) for p in defined["permissions"]
    }
    topics = {
        (t["user"], t["exchange"], t["write"], t["read"]) for t in _get(node, "/topic-permissions")
    }
    assert topics == {
        (t["user"], t["exchange"], t["write"], t["read"]) for t in defined["topic_permissions"]
    }
    policies = {p["name"]: p["definition"] for p in _get(node, f"/policies/{vhost}")}
    assert policies == {p["name"]: p["definition"] for p in defined["policies"]}


def test_every_user_logs_in_with_its_local_dev_password(node: DeviceBroker) -> None:
    defined = json.loads(DEFINITIONS.read_text())
    permitted = {p["user"] for p in defined["permissions"]}

    async def login(user: str) -> None:
        connection = await aiormq.connect(_url(node, user))
        await connection.close()

    for user in (u["name"] for u in defined["users"]):
        if user in permitted:  # monitoring has no vhost access, only the management API
            asyncio.run(login(user))
    with pytest.raises(aiormq.exceptions.AMQPConnectionError):
        asyncio.run(aiormq.connect(node.amqp_url_for("logs-ingester", "wrong")))


def _refused(url: str, action: str) -> None:
    async def attempt() -> None:
        connection = await aiormq.connect(url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            if action == "consume":
                await channel.basic_consume(LOGS.name, lambda message: asyncio.sleep(0))
            elif action == "declare":
                await declare_queue(channel, LOGS)
            else:
                message = JoinRequest(request_id="x", project="p1")
                await publish_confirmed(channel, join_requests_key("p1"), message, timeout=5)
        finally:
            await connection.close()

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        asyncio.run(attempt())


def test_a_service_is_refused_what_belongs_to_another(node: DeviceBroker) -> None:
    # The logs queue exists (definitions) and is the logs-ingester's alone.
    _refused(_url(node, "measurements-ingester"), "consume")
    # The simulator may publish on iot, but only its sensor keys (topic permission).
    _refused(_url(node, "sensor-simulator"), "publish-join-request")
    # A sensor is the untrusted edge: it may not take every sensor's logs, nor declare (which
    # would also let it delete) the consumers' queues; the definitions create them.
    _refused(_url(node, "sensor-simulator"), "consume")
    _refused(_url(node, "sensor-simulator"), "declare")


def _queue_path(queue: str) -> str:
    """The management API's path of a queue of the default vhost."""
    return f"/queues/%2F/{quote(queue, safe='')}"


def _policy(node: DeviceBroker, queue: str) -> str:
    path = _queue_path(queue)
    # The management API fills in a queue's effective policy with its statistics, a moment later.
    return str(wait_until(lambda: _get(node, path).get("policy"), 10, f"{queue}'s policy"))


def _wait_for_rows(database: TestDatabase, sql: str, serial: str, what: str) -> None:
    wait_until(lambda: _rows(database, sql, serial) > 0, 30, f"{what} rows")


def _start(services: Services, node: DeviceBroker, script: str, **env: str) -> None:
    services.start(script, IOT_AMQP_URL=_url(node, script), **env)


def _rows(database: TestDatabase, sql: str, *params: Any) -> int:
    return int(scalar(database.app_url, sql, *params))


def test_services_run_as_their_own_users(
    node: DeviceBroker, database: TestDatabase, log_dir: Path
) -> None:
    services = Services("amqp://unused", database.app_url, log_dir)
    try:
        _start(services, node, "measurements-ingester")
        _start(services, node, "logs-ingester")
        _start(services, node, "sensor-registry")
        _start(
            services,
            node,
            "join-dispatcher",
            LIVEKIT_API_KEY="test-livekit-key",
            LIVEKIT_API_SECRET=LIVEKIT_SECRET,
            IOT_PING_SECONDS="0.5",
        )
        _start(services, node, "api-gateway", IOT_GRPC_PORT="0", IOT_BROKER_AUTH_PORT="0")
        _start(
            services,
            node,
            "sensor-simulator",
            IOT_SENSOR_SERIAL=SERIAL,
            IOT_SAMPLE_FREQUENCY_HZ="50",
            IOT_HEARTBEAT_SECONDS="0.5",
            # As in compose and Kubernetes: its user may declare only its own command queue.
            IOT_DECLARE_TOPOLOGY="false",
        )
        sensor = "SELECT id FROM sensors WHERE serial_number = %s"
        for what, sql in (
            ("measurements", f"SELECT count(*) FROM measurements WHERE sensor_id = ({sensor})"),
            ("logs", f"SELECT count(*) FROM sensor_logs WHERE sensor_id = ({sensor})"),
            (
                "heartbeat",
                "SELECT count(*) FROM sensors WHERE serial_number = %s"
                " AND last_heartbeat_at IS NOT NULL",
            ),
        ):
            _wait_for_rows(database, sql, SERIAL, what)

        gateway = services.started[4]
        headers = {"Authorization": f"Bearer {create_key(database, 'admin')}"}
        base = f"http://127.0.0.1:{http_port(gateway)}/api/v1"
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            # api-gateway declares the sensor's command queue and publishes; the simulator
            # consumes and acknowledges; the sensor-registry records the outcome.
            reply = api.post(f"/sensors/{SERIAL}/commands", json={"action": "sleep"})
            assert reply.status_code == 202, reply.text
            command = reply.json()["command_id"]
            wait_until(
                lambda: (
                    scalar(database.app_url, "SELECT status FROM commands WHERE id = %s", command)
                    == "applied"
                ),
                20,
                "the command to be applied",
            )
            # api-gateway declares the device's queue; the dispatcher declares it again and
            # publishes the JOIN into it; revoking deletes the queue (api-gateway).
            for path, body in (
                ("/projects", {"id": "p1", "name": "p1"}),
                ("/projects/p1/groups", {"name": "g1"}),
            ):
                assert api.post(path, json=body).status_code == 201
            reply = api.post("/projects/p1/devices", json={"name": "d1", "group": "g1"})
            assert reply.status_code == 201, reply.text
            device = reply.json()["id"]
            reply = api.post(
                "/join-requests",
                json={"project": "p1", "group": "g1", "session_id": "s1", "session_name": "r1"},
            )
            assert reply.status_code == 202, reply.text
            wait_until(
                lambda: (
                    _rows(
                        database,
                        "SELECT count(*) FROM join_deliveries WHERE device_id = %s"
                        " AND published_at IS NOT NULL",
                        device,
                    )
                    == 1
                ),
                20,
                "the JOIN to be published",
            )
            queue = DEVICE_INBOX.name.example(device=device)
            inbox = _get(node, _queue_path(queue))
            assert inbox["arguments"] == DEVICE_INBOX.arguments
            # The generated policy's pattern really matches the runtime queues.
            assert _policy(node, queue) == "device-inboxes"
            assert _policy(node, SENSOR_COMMANDS_QUEUE.name.example(serial=SERIAL)) == (
                "sensor-commands"
            )
            assert api.post(f"/devices/{device}/revoke").status_code == 200
            with node.management() as management:
                gone = management.get(_queue_path(queue))
            assert gone.status_code == 404
        for process in services.started:
            assert "ACCESS_REFUSED" not in process.logs(), process.script
    finally:
        services.stop_all()
        print(services.dump_logs())
