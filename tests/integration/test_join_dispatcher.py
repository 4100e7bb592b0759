"""The join-dispatcher against the real RabbitMQ and PostgreSQL.

The dispatcher runs as its real process, as iot_app. Projects, groups, devices and join
requests are inserted as the api-gateway records them, and the request is handed over as the
gateway does (a JoinRequest on project.<p>.join_requests). Devices are simulated by the test
reading their queues and publishing their answers; every assertion is on rows, queues or the
process's metrics and logs.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiormq
import jwt
import psycopg
import pytest
from aiormq.abc import DeliveredMessage
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import DevicePing, DevicePong, JoinAck, JoinRequest, JoinStatus, SessionJoin
from iot_messaging import declare_queue, declare_topology
from iot_routing import (
    DISPATCHER_QUEUES,
    EXCHANGE,
    JOIN_ACKS,
    JOIN_REQUESTS,
    PONGS,
    device_queue,
    device_queue_name,
    join_key,
    join_requests_key,
    message_kind,
    new_device_id,
    ping_key,
)
from livekit.api import TokenVerifier
from psycopg.rows import dict_row

from tests.integration.amqp_fixtures import vhost_of
from tests.integration.control_plane import dead_letter_of
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import (
    Broker,
    Services,
    eventually,
    execute,
    http_get,
    http_port,
    metric,
    query,
)
from tests.support import ServiceProcess, rabbitmqctl, wait_until

pytestmark = pytest.mark.integration

LIVEKIT_KEY = "test-livekit-key"
LIVEKIT_SECRET = "test-livekit-secret-" + "0123456789abcdef" * 2
LIVEKIT_URL = "wss://livekit.example.test"
TOKEN_GRACE_SECONDS = 60  # the dispatcher's default IOT_JOIN_TOKEN_GRACE_SECONDS
PREFIX = "iot_"
PROCESSED = PREFIX + "messages_processed_total"
RECEIVED = JoinStatus.JOIN_STATUS_RECEIVED
JOINED = JoinStatus.JOIN_STATUS_JOINED
FAILED = JoinStatus.JOIN_STATUS_FAILED


# -- the gateway's part: rows and the hand-over ---------------------------------------------


def add_group(db: str, project: str, group: str) -> None:
    query(
        db,
        "INSERT INTO projects (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING id",
        project,
        project.title(),
    )
    query(
        db,
        "INSERT INTO device_groups (project_id, name) VALUES (%s, %s) RETURNING name",
        project,
        group,
    )


def add_device(db: str, project: str, group: str, name: str, *, revoked: bool = False) -> str:
    """A registered device (its queue is not declared: see Fleet.declare); its id."""
    device_id = new_device_id()
    query(
        db,
        "INSERT INTO devices (id, project_id, group_name, name, secret_hash, revoked_at)"
        " VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
        device_id,
        project,
        group,
        name,
        secrets.token_bytes(32),
        revoked,
    )
    return device_id


def add_request(
    db: str,
    project: str,
    group: str,
    *,
    deadline_in: float = 60.0,
    session_name: str = "room-1",
    metadata: dict[str, Any] | None = None,
) -> str:
    """A join_requests row as the gateway records it (pending); deadline_in < 0: overdue."""
    request_id = str(uuid.uuid4())
    query(
        db,
        "INSERT INTO join_requests (id, project_id, group_name, session_id, session_name,"
        " session_metadata, requested_by, requested_at, deadline)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'test',"
        "         now() + least(0, %s) * interval '1 second' - interval '1 minute',"
        "         now() + %s * interval '1 second') RETURNING id",
        request_id,
        project,
        group,
        f"session-{request_id[:8]}",
        session_name,
        json.dumps(metadata or {}),
        deadline_in,
        deadline_in,
    )
    return request_id


def request_row(db: str, request_id: str) -> dict[str, Any]:
    rows = _dict_rows(db, "SELECT * FROM join_requests WHERE id = %s", request_id)
    assert rows, request_id
    return rows[0]


def deliveries(db: str, request_id: str) -> dict[str, dict[str, Any]]:
    """device id -> its join_deliveries row, with xmin (its row version) as `version`."""
    rows = _dict_rows(
        db,
        "SELECT *, xmin::text AS version FROM join_deliveries WHERE request_id = %s",
        request_id,
    )
    return {row["device_id"]: row for row in rows}


def last_seen(db: str, device_id: str) -> datetime | None:
    rows = query(db, "SELECT last_seen_at FROM devices WHERE id = %s", device_id)
    value = rows[0][0]
    assert value is None or isinstance(value, datetime)
    return value


def _dict_rows(db: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db, autocommit=True, row_factory=dict_row) as connection:
        return connection.execute(sql, params).fetchall()


def request_message(request_id: str, project: str, group: str) -> bytes:
    return JoinRequest(request_id=request_id, project=project, group=group).SerializeToString()


# -- the devices' part: their queues and answers --------------------------------------------


def at_seconds(offset: float, base: datetime | None = None) -> datetime:
    """A time offset from base (default now); datetimes keep microseconds, as PostgreSQL."""
    return (base or datetime.now(UTC)) + timedelta(seconds=offset)


def stamp(at: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(at)
    return result


def ack(
    request_id: str, device_id: str, status: JoinStatus, at: datetime, reason: str = ""
) -> JoinAck:
    return JoinAck(
        request_id=request_id,
        device_id=device_id,
        status=status,
        reason=reason,
        acked_at=stamp(at),
    )


@dataclass
class Received:
    """One message taken from a device's queue."""

    routing_key: str
    properties: Any
    body: bytes

    def join(self) -> SessionJoin:
        return SessionJoin.FromString(self.body)


class Fleet:
    """The test's broker connection, speaking for the platform (queues) and the devices."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.published: dict[str, int] = {}  # queue -> messages the test published to it

    @classmethod
    async def open(cls, broker: Broker) -> Fleet:
        # Declared before anything is published: a message nobody's queue takes is dropped.
        await declare_topology(broker.channel, *DISPATCHER_QUEUES)
        return cls(broker)

    async def declare(self, project: str, group: str, *device_ids: str) -> None:
        """What the api-gateway does at registration."""
        for device_id in device_ids:
            await declare_queue(self.broker.channel, device_queue(project, group, device_id))

    async def hand_over(self, request_id: str, project: str, group: str) -> None:
        """What the api-gateway does after recording a request."""
        await self.broker.publish(
            join_requests_key(project), request_message(request_id, project, group)
        )
        self._count(JOIN_REQUESTS.name)

    async def inbox(self, device_id: str) -> list[Received]:
        """Take (and ack) everything now in a device's queue."""
        taken: list[Received] = []
        while True:
            message: DeliveredMessage = await self.broker.channel.basic_get(
                device_queue_name(device_id), no_ack=True
            )
            if message.delivery_tag is None:
                return taken
            taken.append(
                Received(message.routing_key or "", message.header.properties, message.body)
            )

    async def joins(self, device_id: str) -> list[Received]:
        """The JOINs now in a device's queue (pings are dropped)."""
        return [m for m in await self.inbox(device_id) if message_kind(m.routing_key) == "join"]

    async def answer(
        self,
        message: JoinAck | DevicePong | bytes,
        key_device: str,
        *,
        kind: str = "join_acks",
        user_id: str | None = None,
    ) -> None:
        """Publish an answer on device.<key_device>.<kind>, as a device would."""
        body = message if isinstance(message, bytes) else message.SerializeToString()
        confirmation = await self.broker.channel.basic_publish(
            body,
            exchange=EXCHANGE.name,
            routing_key=f"device.{key_device}.{kind}",
            properties=aiormq.spec.Basic.Properties(delivery_mode=2, user_id=user_id),
        )
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)
        self._count(JOIN_ACKS.name if kind == "join_acks" else PONGS.name)

    def _count(self, queue: str) -> None:
        self.published[queue] = self.published.get(queue, 0) + 1

    async def all_taken(self, port: int, queue: str) -> None:
        """Wait until every message the test published to queue was processed or rejected."""
        dead_letter = dead_letter_of(next(q for q in DISPATCHER_QUEUES if q.name == queue))

        async def taken() -> bool:
            done = metric(port, PROCESSED, queue=queue)
            return done + await self.broker.depth(dead_letter) >= self.published.get(queue, 0)

        await eventually(taken, 30, f"every message published to {queue} to be taken")


async def refused(broker: Broker, queue: str) -> bool:
    """Whether the broker now nacks a message for queue."""
    try:
        await broker.channel.basic_publish(b"probe", routing_key=queue)
    except aiormq.exceptions.DeliveryError:
        return True
    return False


async def refuse_everything_for(broker: Broker, vhost: str, device_id: str) -> None:
    """Make the broker refuse (nack) every message for one device's queue (policy "refuse").

    The queue is full at 0 messages; a quorum queue takes one message past its limit, hence
    the filler.
    """
    queue = device_queue_name(device_id)
    rabbitmqctl(
        "set_policy", "-p", vhost, "--apply-to", "queues", "refuse",
        f"^{queue}$", '{"max-length": 0, "overflow": "reject-publish"}',
    )  # fmt: skip
    await broker.channel.basic_publish(b"filler", routing_key=queue)
    await eventually(lambda: refused(broker, queue), 30, "the policy to apply")


def start_dispatcher(services: Services, **env: str) -> ServiceProcess:
    settings = {
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
        "LIVEKIT_URL": LIVEKIT_URL,
        # Quiet by default: one ping round at start, a quick sweep.
        "IOT_PING_SECONDS": "3600",
        "IOT_JOIN_SWEEP_SECONDS": "0.2",
    }
    return services.start("join-dispatcher", **{**settings, **env})


async def wait_status(db: str, request_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        row = request_row(db, request_id)
        return row if row["status"] == status else None

    return await eventually(reached, timeout, f"request {request_id} to be {status}")


async def wait_delivery(db: str, request_id: str, device_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        row = deliveries(db, request_id).get(device_id)
        return row if row is not None and row["status"] == status else None

    return await eventually(reached, 30, f"{device_id}'s delivery to be {status}")


async def wait_ready(port: int) -> None:
    async def ready() -> bool:
        return http_get(port, "/readyz")[0] == 200

    await eventually(ready, 30, "the dispatcher to be ready")


# -- tests ----------------------------------------------------------------------------------


async def test_a_join_reaches_exactly_the_group_s_devices_each_with_its_own_token(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p1", "a")
    add_group(db, "p1", "b")
    group_a = [add_device(db, "p1", "a", f"camera {n}") for n in (1, 2, 3)]
    revoked = add_device(db, "p1", "a", "camera 4", revoked=True)
    other_group = add_device(db, "p1", "b", "camera 5")
    metadata = {"topic": "inspection", "priority": 2}
    request_id = add_request(db, "p1", "a", session_name="room-7", metadata=metadata)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        # The third device's queue is left to the dispatcher to declare.
        await fleet.declare("p1", "a", group_a[0], group_a[1], revoked)
        await fleet.declare("p1", "b", other_group)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p1", "a")
        dispatched = await wait_status(db, request_id, "dispatched")
        received = {device: await fleet.joins(device) for device in group_a}
        strays = [*await fleet.joins(revoked), *await fleet.joins(other_group)]
        port = http_port(process)
        await wait_ready(port)
    deadline: datetime = dispatched["deadline"]
    assert dispatched["dispatched_at"] is not None and dispatched["closed_at"] is None
    verifier = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET)
    for number, device_id in enumerate(group_a, start=1):
        (message,) = received[device_id]
        assert message.routing_key == join_key("p1", "a", device_id)
        assert message.properties.delivery_mode == 2
        assert 0 < int(message.properties.expiration) <= 60_000
        join = message.join()
        assert (join.request_id, join.device_id, join.session_name) == (
            request_id,
            device_id,
            "room-7",
        )
        assert join.session_id == dispatched["session_id"]
        assert json.loads(join.session_metadata_json) == metadata
        assert join.livekit_url == LIVEKIT_URL
        assert join.deadline.ToDatetime(tzinfo=UTC) == deadline
        claims = verifier.verify(join.session_join_token)
        assert (claims.identity, claims.name) == (device_id, f"camera {number}")
        assert claims.video is not None
        assert (claims.video.room, claims.video.room_join) == ("room-7", True)
        expires = jwt.decode(join.session_join_token, options={"verify_signature": False})["exp"]
        assert abs(expires - (deadline.timestamp() + TOKEN_GRACE_SECONDS)) <= 2
    with pytest.raises(jwt.InvalidSignatureError):
        TokenVerifier(LIVEKIT_KEY, "x" * 40).verify(join.session_join_token)
    assert strays == [], "neither the revoked device nor the other group's device got a JOIN"
    rows = deliveries(db, request_id)
    assert sorted(rows) == sorted(group_a)
    assert {row["status"] for row in rows.values()} == {"pending"}
    assert all(row["published_at"] is not None for row in rows.values())
    assert metric(port, PREFIX + "joins_published_total") == 3
    assert metric(port, PREFIX + "join_requests_dispatched_total") == 1


async def test_acks_move_deliveries_forward_and_mark_devices_seen(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p2", "a")
    joined, failed, silent = (add_device(db, "p2", "a", f"d{n}") for n in (1, 2, 3))
    request_id = add_request(db, "p2", "a")
    t1 = at_seconds(-2)
    t2 = at_seconds(-1)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p2", "a")
        await wait_status(db, request_id, "dispatched")
        for device in (joined, failed, silent):
            await fleet.answer(ack(request_id, device, RECEIVED, t1), device)
        await fleet.answer(ack(request_id, joined, JOINED, t2), joined)
        await fleet.answer(ack(request_id, failed, FAILED, t2, "camera busy"), failed)
        port = http_port(process)
        await fleet.all_taken(port, JOIN_ACKS.name)
        first = deliveries(db, request_id)
        # Repeated answers (a JOIN delivered twice, acks redelivered) and a late change of
        # mind: the first outcome stands and no row is even rewritten.
        for message in (
            ack(request_id, joined, JOINED, at_seconds(0)),
            ack(request_id, joined, FAILED, at_seconds(0), "changed my mind"),
            ack(request_id, failed, RECEIVED, t1),
            ack(request_id, silent, RECEIVED, at_seconds(0)),
        ):
            await fleet.answer(message, message.device_id)
        await fleet.all_taken(port, JOIN_ACKS.name)
        acks = {
            status: metric(port, PREFIX + "join_acks_total", status=status)
            for status in ("received", "joined", "failed")
        }
    assert (first[joined]["status"], first[joined]["reason"]) == ("joined", None)
    assert (first[joined]["delivered_at"], first[joined]["answered_at"]) == (t1, t2)
    assert (first[failed]["status"], first[failed]["reason"]) == ("failed", "camera busy")
    assert (first[failed]["delivered_at"], first[failed]["answered_at"]) == (t1, t2)
    assert (first[silent]["status"], first[silent]["delivered_at"]) == ("delivered", t1)
    assert first[silent]["answered_at"] is None
    assert deliveries(db, request_id) == first
    assert all(last_seen(db, device) is not None for device in (joined, failed, silent))
    assert acks == {"received": 5, "joined": 2, "failed": 2}


async def test_answers_not_from_the_device_they_name_are_dead_lettered(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p3", "a")
    honest, victim = add_device(db, "p3", "a", "honest"), add_device(db, "p3", "a", "victim")
    request_id = add_request(db, "p3", "a")
    now = at_seconds(-1)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p3", "a")
        await wait_status(db, request_id, "dispatched")
        before = deliveries(db, request_id)
        joined_for_victim = ack(request_id, victim, JOINED, now)
        invalid: list[tuple[JoinAck | bytes, str, str | None]] = [
            (joined_for_victim, honest, None),  # the body names another device than the key
            (ack(request_id, honest, JOINED, now), honest, "guest"),  # user_id is not the key's
            (joined_for_victim, "nobody", None),  # a key that names no device
            (b"\xff\xff\xff", honest, None),  # not a JoinAck
            (ack(request_id, honest, JoinStatus.JOIN_STATUS_UNSPECIFIED, now), honest, None),
            (JoinAck(request_id=request_id, device_id=honest, status=JOINED), honest, None),
            (ack("not-a-uuid", honest, JOINED, now), honest, None),
        ]
        for message, key_device, user_id in invalid:
            await fleet.answer(message, key_device, user_id=user_id)
        # A valid answer after them all is stored: the consumer goes on.
        await fleet.answer(ack(request_id, honest, RECEIVED, now), honest)
        await wait_delivery(db, request_id, honest, "delivered")

        async def all_dead_lettered() -> bool:
            return await broker.depth(dead_letter_of(JOIN_ACKS)) == len(invalid)

        await eventually(all_dead_lettered, 30, "every invalid answer dead-lettered")
        await fleet.all_taken(http_port(process), JOIN_ACKS.name)
    assert deliveries(db, request_id)[victim] == before[victim]
    assert last_seen(db, victim) is None
    assert process.logs().count('"message dead-lettered"') == len(invalid)


async def test_a_redelivered_request_adds_no_rows_and_sends_no_second_join(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p4", "a")
    devices = [add_device(db, "p4", "a", f"d{n}") for n in (1, 2, 3)]
    request_id = add_request(db, "p4", "a")
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p4", "a")
        await wait_status(db, request_id, "dispatched")
        await fleet.hand_over(request_id, "p4", "a")  # the gateway's retry after a lost confirm
        await fleet.all_taken(http_port(process), JOIN_REQUESTS.name)
        counts = {device: len(await fleet.joins(device)) for device in devices}
    assert sorted(deliveries(db, request_id)) == sorted(devices)
    assert counts == dict.fromkeys(devices, 1)


async def test_a_request_arriving_after_its_deadline_is_closed_and_nothing_sent(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p5", "a")
    devices = [add_device(db, "p5", "a", f"d{n}") for n in (1, 2, 3)]
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        await fleet.declare("p5", "a", *devices)
        # The sweep runs only at start, which is over once the dispatcher is ready: the late
        # request must be found by dispatching, not by the sweep.
        process = start_dispatcher(services, IOT_JOIN_SWEEP_SECONDS="3600")
        port = http_port(process)
        await wait_ready(port)
        await asyncio.sleep(0.5)
        request_id = add_request(db, "p5", "a", deadline_in=-5)
        await fleet.hand_over(request_id, "p5", "a")
        closed = await wait_status(db, request_id, "closed")
        await fleet.all_taken(port, JOIN_REQUESTS.name)
        sent = [message for device in devices for message in await fleet.joins(device)]
        late = metric(port, PREFIX + "join_requests_closed_total", by="late")
    rows = deliveries(db, request_id)
    assert sorted(rows) == sorted(devices)
    assert {(row["status"], row["reason"]) for row in rows.values()} == {
        ("expired", "not dispatched before the deadline")
    }
    assert all(row["published_at"] is None for row in rows.values())
    assert closed["closed_at"] is not None and closed["dispatched_at"] is None
    assert sent == []
    assert late == 1
    wait_until(lambda: "arrived after its deadline" in process.logs(), 10, "the late-request log")


async def test_the_sweep_closes_requests_at_their_deadline(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p6", "a")
    joined, received, silent = (add_device(db, "p6", "a", f"d{n}") for n in (1, 2, 3))
    request_id = add_request(db, "p6", "a", deadline_in=6)
    # Recorded by the gateway, but its hand-over never reached the dispatcher.
    lost_id = add_request(db, "p6", "a", deadline_in=1)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p6", "a")
        await wait_status(db, request_id, "dispatched")
        await fleet.answer(ack(request_id, joined, JOINED, at_seconds(0)), joined)
        await fleet.answer(ack(request_id, received, RECEIVED, at_seconds(0)), received)
        closed = await wait_status(db, request_id, "closed")
        lost = await wait_status(db, lost_id, "closed")
        port = http_port(process)
        await fleet.all_taken(port, JOIN_ACKS.name)
        expired = metric(port, PREFIX + "deliveries_expired_total")
    rows = deliveries(db, request_id)
    assert rows[joined]["status"] == "joined"
    assert (rows[received]["status"], rows[received]["reason"]) == (
        "expired",
        "no outcome by the deadline",
    )
    assert rows[received]["delivered_at"] is not None, "delivery stays proven"
    assert (rows[silent]["status"], rows[silent]["delivered_at"]) == ("expired", None)
    assert closed["closed_at"] >= closed["deadline"]
    lost_rows = deliveries(db, lost_id)
    assert sorted(lost_rows) == sorted([joined, received, silent])
    assert {row["reason"] for row in lost_rows.values()} == {"not dispatched before the deadline"}
    assert lost["dispatched_at"] is None
    assert expired == 5


async def test_an_outcome_sent_in_time_replaces_expired_and_a_late_one_does_not(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p7", "a")
    in_time, too_late = add_device(db, "p7", "a", "d1"), add_device(db, "p7", "a", "d2")
    request_id = add_request(db, "p7", "a", deadline_in=1.5)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        process = start_dispatcher(services)
        await fleet.hand_over(request_id, "p7", "a")
        closed = await wait_status(db, request_id, "closed")
        deadline: datetime = closed["deadline"]
        assert {row["status"] for row in deliveries(db, request_id).values()} == {"expired"}
        answered = at_seconds(-0.5, deadline)
        await fleet.answer(ack(request_id, in_time, JOINED, answered), in_time)
        for message in (
            ack(request_id, too_late, JOINED, at_seconds(1, deadline)),
            ack(request_id, too_late, FAILED, at_seconds(1, deadline), "deadline passed"),
        ):
            await fleet.answer(message, too_late)
        await fleet.all_taken(http_port(process), JOIN_ACKS.name)
    rows = deliveries(db, request_id)
    assert (rows[in_time]["status"], rows[in_time]["answered_at"]) == ("joined", answered)
    assert rows[in_time]["reason"] is None
    assert (rows[too_late]["status"], rows[too_late]["answered_at"]) == ("expired", None)
    assert request_row(db, request_id)["status"] == "closed"


async def test_pings_reach_every_group_and_pongs_mark_devices_seen(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    for group in ("a", "b", "c"):
        add_group(db, "p8", group)
    a1, a2 = add_device(db, "p8", "a", "a1"), add_device(db, "p8", "a", "a2")
    b1 = add_device(db, "p8", "b", "b1")
    revoked = add_device(db, "p8", "c", "c1", revoked=True)  # group c has nobody to ping
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        await fleet.declare("p8", "a", a1, a2)
        await fleet.declare("p8", "b", b1)
        await fleet.declare("p8", "c", revoked)
        process = start_dispatcher(services, IOT_PING_SECONDS="0.3")
        pings: dict[str, list[Received]] = {a1: [], a2: [], b1: []}

        async def pinged_twice() -> bool:
            for device, taken in pings.items():
                taken.extend(await fleet.inbox(device))
            return all(len(taken) >= 2 for taken in pings.values())

        await eventually(pinged_twice, 30, "two ping rounds in every device queue")
        assert await fleet.inbox(revoked) == []
        port = http_port(process)
        stranger = new_device_id()
        await fleet.answer(DevicePong(ping_id="x", device_id=a1), a1, kind="pongs")
        await fleet.answer(DevicePong(ping_id="x", device_id=a2), a1, kind="pongs")  # a1 for a2
        await fleet.answer(DevicePong(ping_id="x", device_id=stranger), stranger, kind="pongs")
        await fleet.all_taken(port, PONGS.name)
        dead_lettered = await broker.depth(dead_letter_of(PONGS))
        unknown = metric(port, PREFIX + "pongs_unknown_device_total")
        assert metric(port, PREFIX + "pings_published_total") >= 4
    for device, taken in pings.items():
        group = "b" if device == b1 else "a"
        for message in taken:
            assert message.routing_key == ping_key("p8", group)
            assert message.properties.expiration == "300"
            assert DevicePing.FromString(message.body).interval_seconds == 0.3
    assert last_seen(db, a1) is not None
    assert (last_seen(db, a2), dead_lettered, unknown) == (None, 1, 1)


async def test_requests_waiting_in_the_queue_are_dispatched_when_the_dispatcher_starts(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_group(db, "p9", "a")
    add_group(db, "p9", "b")
    in_a = [add_device(db, "p9", "a", f"a{n}") for n in (1, 2)]
    in_b = [add_device(db, "p9", "b", f"b{n}") for n in (1, 2)]
    first, second = add_request(db, "p9", "a"), add_request(db, "p9", "b")
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        await fleet.hand_over(first, "p9", "a")
        await fleet.hand_over(second, "p9", "b")
        assert await broker.depth(JOIN_REQUESTS) == 2
        start_dispatcher(services)
        await wait_status(db, first, "dispatched")
        await wait_status(db, second, "dispatched")
        counts = {device: len(await fleet.joins(device)) for device in [*in_a, *in_b]}
    assert counts == dict.fromkeys([*in_a, *in_b], 1)
    assert sorted(deliveries(db, first)) == sorted(in_a)
    assert sorted(deliveries(db, second)) == sorted(in_b)


async def test_a_dispatcher_killed_while_a_join_is_unconfirmed_loses_and_repeats_nothing(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    vhost = vhost_of(amqp_url)
    add_group(db, "p10", "a")
    devices = [add_device(db, "p10", "a", f"d{n}") for n in (1, 2, 3)]
    refusing = devices[2]
    request_id = add_request(db, "p10", "a", deadline_in=300)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        await fleet.declare("p10", "a", *devices)
        await refuse_everything_for(broker, vhost, refusing)
        first = start_dispatcher(services)
        await fleet.hand_over(request_id, "p10", "a")

        async def others_published() -> bool:
            rows = deliveries(db, request_id)
            published = {d for d, row in rows.items() if row["published_at"] is not None}
            return published == set(devices[:2]) and "JOINs not confirmed" in first.logs()

        await eventually(others_published, 30, "two JOINs confirmed and the third retried")
        assert request_row(db, request_id)["status"] == "pending"
        first.kill()  # SIGKILL between receiving the request and acking it

        rabbitmqctl("clear_policy", "-p", vhost, "refuse")
        await broker.channel.queue_purge(device_queue_name(refusing))
        second = start_dispatcher(services)
        dispatched = await wait_status(db, request_id, "dispatched")
        await fleet.all_taken(http_port(second), JOIN_REQUESTS.name)
        counts = {device: len(await fleet.joins(device)) for device in devices}
    rows = deliveries(db, request_id)
    assert sorted(rows) == sorted(devices)
    assert all(row["published_at"] is not None for row in rows.values())
    assert dispatched["dispatched_at"] is not None
    assert counts == dict.fromkeys(devices, 1), "each device got its JOIN exactly once"


async def test_a_device_revoked_while_its_join_is_refused_stops_holding_up_the_request(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    vhost = vhost_of(amqp_url)
    add_group(db, "p11", "a")
    devices = [add_device(db, "p11", "a", f"d{n}") for n in (1, 2)]
    refusing = devices[1]
    request_id = add_request(db, "p11", "a", deadline_in=300)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        await fleet.declare("p11", "a", *devices)
        await refuse_everything_for(broker, vhost, refusing)
        dispatcher = start_dispatcher(services)
        await fleet.hand_over(request_id, "p11", "a")

        async def retried() -> bool:
            return "JOINs not confirmed" in dispatcher.logs()

        await eventually(retried, 30, "the refused JOIN retried")
        # Revoked while the dispatcher retries it (the deadline is minutes away): it drops out
        # at the next round, and the request no longer waits for it.
        execute(db, "UPDATE devices SET revoked_at = now() WHERE id = %s", refusing)
        dispatched = await wait_status(db, request_id, "dispatched")
        await fleet.all_taken(http_port(dispatcher), JOIN_REQUESTS.name)
    rows = deliveries(db, request_id)
    assert rows[devices[0]]["published_at"] is not None
    assert rows[refusing]["published_at"] is None
    assert dispatched["dispatched_at"] is not None


async def test_the_sweep_and_acknowledgements_racing_on_many_devices_neither_deadlock_nor_lose(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    """Two dispatchers sweep and take acknowledgements at the deadline, concurrently."""
    db = database.admin_url
    add_group(db, "p11", "a")
    devices = [add_device(db, "p11", "a", f"d{n}") for n in range(40)]
    request_id = add_request(db, "p11", "a", deadline_in=8)
    async with Broker(amqp_url) as broker:
        fleet = await Fleet.open(broker)
        start_dispatcher(services, IOT_JOIN_SWEEP_SECONDS="0.05")
        start_dispatcher(services, IOT_JOIN_SWEEP_SECONDS="0.05")
        await fleet.hand_over(request_id, "p11", "a")

        async def all_targeted() -> bool:
            return len(deliveries(db, request_id)) == len(devices)

        await eventually(all_targeted, 30, "every device targeted")
        deadline: datetime = request_row(db, request_id)["deadline"]
        # Every device answers in time, but the answers arrive around the deadline, while
        # both dispatchers sweep: each answer must win, whichever comes first.
        delay = (deadline - datetime.now(UTC)).total_seconds() - 0.2
        await asyncio.sleep(max(0.0, delay))
        answered = at_seconds(-1, deadline)
        await asyncio.gather(
            *(fleet.answer(ack(request_id, d, JOINED, answered), d) for d in reversed(devices))
        )
        await wait_status(db, request_id, "closed")

        async def all_joined() -> bool:
            rows = deliveries(db, request_id)
            return {row["status"] for row in rows.values()} == {"joined"}

        await eventually(all_joined, 30, "every answer to replace or pre-empt expired")
    assert not any("deadlock" in p.logs().lower() for p in services.started)
