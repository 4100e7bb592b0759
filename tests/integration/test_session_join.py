"""End to end: an operator makes a device group join a session, with every real part in place.

A RabbitMQ node configured like production (internal users for the services, the api-gateway's
HTTP auth backend for devices), the api-gateway, the join-dispatcher, devices running
`iot-device run` with their own credentials, and `iotctl join --wait`. Nothing is simulated
but the LiveKit server, which the devices do not contact (they check their token's claims).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiormq
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import JoinAck, JoinStatus, SessionJoin
from iot_messaging import publish_confirmed
from iot_routing import device_queue_name, join_acks_key, join_key, message_kind
from livekit.api import TokenVerifier

from tests.integration.db_fixtures import TestDatabase
from tests.integration.device_broker import DeviceCredential, DeviceGateway
from tests.integration.pipeline import Services, query
from tests.support import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

IOTCTL = Path(sys.executable).with_name("iotctl")
LIVEKIT_KEY = "e2e-livekit-key"
LIVEKIT_SECRET = "e2e-livekit-secret-" + "fedcba9876543210" * 2
PROJECT = "studio"


def start_dispatcher(device_services: Services) -> ServiceProcess:
    return device_services.start(
        "join-dispatcher",
        LIVEKIT_API_KEY=LIVEKIT_KEY,
        LIVEKIT_API_SECRET=LIVEKIT_SECRET,
        LIVEKIT_URL="wss://livekit.e2e.test",
        IOT_JOIN_SWEEP_SECONDS="0.5",
        IOT_PING_SECONDS="1",
    )


def start_device(
    device_services: Services, gateway: DeviceGateway, device: DeviceCredential
) -> ServiceProcess:
    """`iot-device run` as the device: its id and secret, the node's address without credentials."""
    return device_services.start(
        "iot-device",
        "run",
        IOT_DEVICE_ID=device.device_id,
        IOT_DEVICE_SECRET=device.password,
        IOT_AMQP_URL=gateway.broker.address(gateway.vhost),
        IOT_RECONNECT_MAX_SECONDS="1",
    )


def joined_sessions(process: ServiceProcess) -> list[dict[str, Any]]:
    """The 'joined session' log lines of a device process."""
    lines = []
    for line in process.logs().splitlines():
        if line.startswith("{") and "joined session" in line:
            lines.append(json.loads(line))
    return lines


def iotctl(gateway: DeviceGateway, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IOTCTL), *args],
        capture_output=True,
        text=True,
        env={
            "IOTCTL_CONFIG": str(home / "iotctl.json"),
            "IOT_API_URL": gateway.gateway.url,
            "IOT_API_KEY": gateway.gateway.keys["operator"],
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
        },
        timeout=120,
        check=False,
    )


def deliveries(database: TestDatabase, request_id: str) -> dict[str, str]:
    rows = query(
        database.app_url,
        "SELECT device_id, status FROM join_deliveries WHERE request_id = %s",
        request_id,
    )
    return {device_id: status for device_id, status in rows}


async def test_a_join_reaches_exactly_the_group_and_every_device_joins(
    device_gateway: DeviceGateway,
    device_services: Services,
    database: TestDatabase,
    tmp_path: Path,
) -> None:
    group_a = [device_gateway.register_device(PROJECT, "a", f"camera {n}") for n in (1, 2, 3)]
    (other,) = [device_gateway.register_device(PROJECT, "b", "microphone")]
    start_dispatcher(device_services)
    devices = {d.device_id: start_device(device_services, device_gateway, d) for d in group_a}
    bystander = start_device(device_services, device_gateway, other)

    # The operator's whole action: one command, which waits for every device's answer.
    done = iotctl(
        device_gateway,
        tmp_path,
        "join",
        "--project",
        PROJECT,
        "--group",
        "a",
        "--session",
        "rehearsal-7",
        "--session-name",
        "stage",
        "--metadata",
        '{"teacher": "ada"}',
        "--deadline",
        "60s",
        "--wait",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for device in group_a:
        assert device.device_id in done.stdout
    assert done.stdout.count("joined") >= 3

    (request_id,) = [str(row[0]) for row in query(database.app_url, "SELECT id FROM join_requests")]
    status = device_gateway.admin.get(f"/join-requests/{request_id}").json()
    assert status["counts"]["targeted"] == 3
    assert status["counts"]["joined"] == 3
    assert deliveries(database, request_id) == {d.device_id: "joined" for d in group_a}
    for device_id, process in devices.items():
        (line,) = joined_sessions(process)
        assert (line["session_id"], line["room"]) == ("rehearsal-7", "stage"), device_id
    # The other group's device heard nothing but pings, and answers those: it is online.
    assert joined_sessions(bystander) == []
    wait_until(
        lambda: device_gateway.admin.get(f"/devices/{other.device_id}").json()["online"],
        20,
        "the other group's device to be seen through its pongs",
    )


async def test_a_device_that_comes_back_before_the_deadline_joins_and_one_after_it_expires(
    device_gateway: DeviceGateway,
    device_services: Services,
    database: TestDatabase,
) -> None:
    early, late, probe = (
        device_gateway.register_device(PROJECT, "night", name)
        for name in ("early", "late", "probe")
    )
    start_dispatcher(device_services)
    reply = device_gateway.client("operator").post(
        "/join-requests",
        json={
            "project": PROJECT,
            "group": "night",
            "session_id": "s-1",
            "session_name": "night-shift",
            "deadline": "8s",
        },
    )
    assert reply.status_code == 202, reply.text
    request_id = reply.json()["join_request_id"]
    deadline = datetime.fromisoformat(reply.json()["deadline"])

    # The probe is a device this test plays with its own credential over the real node: its
    # JOIN carries a LiveKit token that LiveKit's verifier accepts for its room and identity.
    join = await take_join(device_gateway, probe)
    claims = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(join.session_join_token)
    assert claims.video is not None
    assert (claims.identity, claims.video.room, claims.video.room_join) == (
        probe.device_id,
        "night-shift",
        True,
    )
    await answer(device_gateway, probe, join.request_id, JoinStatus.JOIN_STATUS_JOINED)

    # Offline when the request was sent, back before the deadline: joins from its queue.
    await asyncio.sleep(1)
    came_back = start_device(device_services, device_gateway, early)
    wait_until(lambda: joined_sessions(came_back), 20, "the early device to join")
    # It logs the answer only once the broker confirmed it, a moment after joining.
    wait_until(lambda: '"join answered"' in came_back.logs(), 20, "the early device to answer")

    # Back only after the deadline: its JOIN expired in the broker; it joins nothing.
    wait_until(lambda: datetime.now(UTC) > deadline, 30, "the deadline to pass")
    too_late = start_device(device_services, device_gateway, late)
    closed = wait_until(
        lambda: (
            (s := device_gateway.admin.get(f"/join-requests/{request_id}").json())["status"]
            == "closed"
            and s
        ),
        20,
        "the request to close at its deadline",
    )
    assert (closed["counts"]["joined"], closed["counts"]["expired"]) == (2, 1)
    assert deliveries(database, request_id) == {
        early.device_id: "joined",
        probe.device_id: "joined",
        late.device_id: "expired",
    }
    wait_until(lambda: '"consuming"' in too_late.logs(), 20, "the late device to consume")
    await asyncio.sleep(1)
    # Not merely "did not join" (the device itself refuses a JOIN past its deadline): the
    # broker dropped the JOIN, so the device never even answered one.
    assert '"join answered"' not in too_late.logs()
    assert joined_sessions(too_late) == []


async def test_the_broker_refuses_a_revoked_device_and_other_devices_queues(
    device_gateway: DeviceGateway,
) -> None:
    mine, neighbour = (device_gateway.register_device(PROJECT, "a") for _ in range(2))
    stranger = device_gateway.register_device(PROJECT, "b")
    connection = await aiormq.connect(device_gateway.amqp_url_for(mine))
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.basic_consume(device_queue_name(neighbour.device_id), _ignore)
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.queue_bind(
                device_queue_name(mine.device_id),
                "iot",
                routing_key=join_key(PROJECT, "b", stranger.device_id),
            )
    finally:
        await connection.close()

    device_gateway.revoke(mine.device_id)
    await asyncio.sleep(device_gateway.cache_seconds + 0.5)
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
        await aiormq.connect(device_gateway.amqp_url_for(mine))


async def _ignore(message: aiormq.abc.DeliveredMessage) -> None:
    raise AssertionError("nothing may be delivered")


async def take_join(gateway: DeviceGateway, device: DeviceCredential) -> SessionJoin:
    """Log in as the device and take one JOIN from its own queue (acked)."""
    connection = await aiormq.connect(gateway.amqp_url_for(device))
    try:
        channel = await connection.channel()
        queue = device_queue_name(device.device_id)
        for _ in range(100):
            message = await channel.basic_get(queue, no_ack=False)
            if message.body:
                assert message.delivery_tag is not None
                await channel.basic_ack(message.delivery_tag)
                # Pings for the group share the queue; only the JOIN matters here.
                if message_kind(message.routing_key or "") == "join":
                    assert message.routing_key == join_key(PROJECT, device.group, device.device_id)
                    return SessionJoin.FromString(message.body)
                continue
            await asyncio.sleep(0.1)
        raise AssertionError(f"no JOIN reached {device.device_id}")
    finally:
        await connection.close()


async def answer(
    gateway: DeviceGateway, device: DeviceCredential, request_id: str, status: int
) -> None:
    """Publish the device's answer as the device (user_id checked by the broker)."""
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    connection = await aiormq.connect(gateway.amqp_url_for(device))
    try:
        channel = await connection.channel(publisher_confirms=True)
        await publish_confirmed(
            channel,
            join_acks_key(device.device_id),
            JoinAck(
                request_id=request_id,
                device_id=device.device_id,
                status=status,  # type: ignore[arg-type]
                acked_at=stamp,
            ),
            user_id=device.device_id,
        )
    finally:
        await connection.close()
