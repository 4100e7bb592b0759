"""The device client against the real broker, logged in as the device itself.

Each test creates a RabbitMQ internal user for its device with exactly what the platform's
broker authorisation grants a device (no configure permission; read and write on its own queue
and the `iot` exchange; publish only its own answer keys), so anything the client tried beyond
that (declaring, binding, publishing elsewhere, a wrong user_id) would fail here as it would in
production. The test side plays the platform as guest: it declares the device's queue and
publishes JOINs and pings the way the join-dispatcher does, and reads the answers from queues
bound to the device's answer keys.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from google.protobuf.message import Message
from iot.v1.join_pb2 import DevicePong, JoinAck, JoinStatus, SessionJoin
from iot_device import DeviceClient, Joiner, JoinResult, TokenJoiner, broker_address
from iot_messaging import declare_topology
from iot_routing import (
    EXCHANGE,
    device_queue,
    device_queue_name,
    join_acks_key,
    join_key,
    new_device_id,
    ping_key,
    pongs_key,
)

from tests.device_messages import device_ping, join_token, session_join
from tests.integration.amqp_fixtures import vhost_of
from tests.integration.pipeline import Broker, eventually
from tests.support import ServiceProcess, rabbitmqctl

pytestmark = pytest.mark.integration

PROJECT = "proj-1"
GROUP = "group-1"
RECEIVED = JoinStatus.JOIN_STATUS_RECEIVED
JOINED = JoinStatus.JOIN_STATUS_JOINED
FAILED = JoinStatus.JOIN_STATUS_FAILED
# Short waits between reconnection attempts keep the tests quick; the pacing is the same.
MAX_DELAY = 0.3
WAIT = 30.0


@dataclass(frozen=True)
class DeviceAccount:
    """A device's broker user: its id, its secret and the broker address of the test vhost."""

    device_id: str
    secret: str
    vhost: str
    broker: str


def _any_of(*names: str) -> str:
    """A permission regex matching exactly these names."""
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def _password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _device_definitions(device_id: str, secret: str, vhost: str) -> dict[str, Any]:
    """The device's user and its permissions, as the broker-auth endpoints answer for it."""
    own = _any_of(EXCHANGE.name, device_queue_name(device_id))
    answers = _any_of(join_acks_key(device_id), pongs_key(device_id))
    receives = _any_of(join_key(PROJECT, GROUP, device_id), ping_key(PROJECT, GROUP))
    return {
        "users": [
            {
                "name": device_id,
                "password_hash": _password_hash(secret),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
        ],
        "permissions": [
            {"user": device_id, "vhost": vhost, "configure": "^$", "write": own, "read": own}
        ],
        "topic_permissions": [
            {
                "user": device_id,
                "vhost": vhost,
                "exchange": EXCHANGE.name,
                "write": answers,
                "read": receives,
            }
        ],
    }


def _import_definitions(definitions: dict[str, Any]) -> None:
    """One rabbitmqctl call for a user and its permissions (each call costs a second or two).

    The file is world-readable in the system temporary directory: Debian's rabbitmqctl runs as
    the rabbitmq user, who cannot read pytest's private directories. It holds no secret, only
    a salted hash.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(definitions, file)
        file.flush()
        os.chmod(file.name, 0o644)
        rabbitmqctl("import_definitions", file.name)


@pytest.fixture
def account(amqp_url: str) -> Iterator[DeviceAccount]:
    device_id = new_device_id()
    # Characters that mean something in a URL prove the client quotes its credential.
    secret = "s/@:%?#" + secrets.token_urlsafe(24)
    vhost = vhost_of(amqp_url)
    _import_definitions(_device_definitions(device_id, secret, vhost))
    try:
        yield DeviceAccount(device_id, secret, vhost, broker_address("127.0.0.1", 5672, vhost))
    finally:
        rabbitmqctl("delete_user", device_id)


@dataclass(frozen=True)
class Answer:
    """One answer of the device as it arrived, with the AMQP user_id the broker vouched for."""

    message: Any
    user_id: str | None


class Platform:
    """The test's side: the device's queue, JOINs and pings in, the device's answers out."""

    def __init__(self, broker: Broker, account: DeviceAccount) -> None:
        self.broker = broker
        self.device_id = account.device_id
        self.queue = device_queue(PROJECT, GROUP, account.device_id)
        self.acks_tap = f"test.{account.device_id}.join_acks"
        self.pongs_tap = f"test.{account.device_id}.pongs"
        self.acks: list[Answer] = []

    async def open(self, *, bind_acks: bool = True) -> Platform:
        await self.declare_queue()
        for tap, key in (
            (self.acks_tap, join_acks_key(self.device_id)),
            (self.pongs_tap, pongs_key(self.device_id)),
        ):
            await self.broker.channel.queue_declare(tap, durable=False)
            if bind_acks or tap == self.pongs_tap:
                await self.broker.channel.queue_bind(tap, EXCHANGE.name, routing_key=key)
        return self

    async def bind_acks(self) -> None:
        await self.broker.channel.queue_bind(
            self.acks_tap, EXCHANGE.name, routing_key=join_acks_key(self.device_id)
        )

    async def declare_queue(self) -> None:
        await declare_topology(self.broker.channel, self.queue)

    async def delete_queue(self) -> None:
        await self.broker.channel.queue_delete(self.queue.name)

    async def depth(self) -> int:
        return await self.broker.depth(self.queue.name)

    async def send(self, message: Message | bytes, key: str | None = None) -> None:
        body = message if isinstance(message, bytes) else message.SerializeToString()
        await self.broker.publish(key or join_key(PROJECT, GROUP, self.device_id), body)

    async def send_ping(self) -> str:
        ping = device_ping()
        await self.send(ping, ping_key(PROJECT, GROUP))
        return ping.ping_id

    async def _take(self, queue: str, kind: type[Message]) -> list[Answer]:
        taken: list[Answer] = []
        while True:
            message = await self.broker.channel.basic_get(queue, no_ack=True)
            if message.delivery_tag is None:
                return taken
            taken.append(Answer(kind.FromString(message.body), message.header.properties.user_id))

    async def statuses(self, request_id: str, count: int) -> list[JoinAck]:
        """The first `count` acks of a request, in order (waits for them)."""

        async def probe() -> list[JoinAck] | None:
            self.acks += await self._take(self.acks_tap, JoinAck)
            found = [a.message for a in self.acks if a.message.request_id == request_id]
            return found[:count] if len(found) >= count else None

        return await eventually(probe, WAIT, f"{count} acks of request {request_id}")

    async def pong(self, ping_id: str) -> Answer:
        pongs: list[Answer] = []

        async def probe() -> Answer | None:
            pongs.extend(await self._take(self.pongs_tap, DevicePong))
            return next((p for p in pongs if p.message.ping_id == ping_id), None)

        return await eventually(probe, WAIT, f"the pong of ping {ping_id}")


@asynccontextmanager
async def platform(
    amqp_url: str, account: DeviceAccount, **options: bool
) -> AsyncIterator[Platform]:
    async with Broker(amqp_url) as broker:
        yield await Platform(broker, account).open(**options)


class CountingJoiner:
    """The default joiner, counting the requests it was asked to join."""

    def __init__(self, device_id: str, delay: float = 0.0) -> None:
        self._inner = TokenJoiner(device_id, structlog.get_logger())
        self._delay = delay
        self.calls: list[str] = []
        self.entered = asyncio.Event()

    async def join(self, join: SessionJoin) -> JoinResult:
        self.calls.append(join.request_id)
        self.entered.set()
        await asyncio.sleep(self._delay)
        return await self._inner.join(join)


def make_client(account: DeviceAccount, joiner: Joiner, secret: str | None = None) -> DeviceClient:
    return DeviceClient(
        account.device_id,
        secret or account.secret,
        joiner,
        structlog.get_logger(),
        broker=account.broker,
        max_delay=MAX_DELAY,
    )


@asynccontextmanager
async def running(client: DeviceClient) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


async def consuming(client: DeviceClient) -> None:
    await asyncio.wait_for(client.consuming.wait(), WAIT)


async def until(condition: Callable[[], bool], what: str) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, WAIT, what)


def statuses(acks: list[JoinAck]) -> list[JoinStatus]:
    return [a.status for a in acks]


async def test_a_join_is_received_then_joined_and_then_acked(
    amqp_url: str, account: DeviceAccount
) -> None:
    joiner = CountingJoiner(account.device_id)
    client = make_client(account, joiner)
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        async with running(client):
            await link.send(join)
            acks = await link.statuses(join.request_id, 2)
        assert statuses(acks) == [RECEIVED, JOINED]
        assert all(a.device_id == account.device_id and not a.reason for a in acks)
        assert {a.user_id for a in link.acks} == {account.device_id}
        assert joiner.calls == [join.request_id]
        assert await link.depth() == 0, "acked, so not back in the queue after the client left"


async def test_a_repeated_join_is_answered_joined_again_without_joining_twice(
    amqp_url: str, account: DeviceAccount
) -> None:
    joiner = CountingJoiner(account.device_id)
    client = make_client(account, joiner)
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link, running(client):
        await link.send(join)
        await link.send(join)
        acks = await link.statuses(join.request_id, 4)
    assert statuses(acks) == [RECEIVED, JOINED, RECEIVED, JOINED]
    assert joiner.calls == [join.request_id]
    assert client.stats.joins_repeated == 1


async def test_a_join_past_its_deadline_fails_without_joining(
    amqp_url: str, account: DeviceAccount
) -> None:
    """The broker drops a JOIN at its deadline; one it still delivers (clock skew) fails."""
    joiner = CountingJoiner(account.device_id)
    client = make_client(account, joiner)
    late = session_join(account.device_id, deadline_in=-1.0)
    async with platform(amqp_url, account) as link, running(client):
        await link.send(late)
        acks = await link.statuses(late.request_id, 2)
    assert statuses(acks) == [RECEIVED, FAILED]
    assert acks[1].reason == "deadline passed"
    assert joiner.calls == []


@pytest.mark.parametrize(
    ("token_for", "reason"),
    [
        (lambda device: join_token(device, "another-room"), "room 'another-room'"),
        (lambda device: join_token(new_device_id(), "room-1"), "identity"),
        (lambda device: join_token(device, "room-1", room_join=False), "roomJoin"),
    ],
    ids=["wrong-room", "wrong-identity", "no-room-join"],
)
async def test_a_join_whose_token_does_not_fit_fails_with_the_reason(
    amqp_url: str, account: DeviceAccount, token_for: Any, reason: str
) -> None:
    client = make_client(account, TokenJoiner(account.device_id, structlog.get_logger()))
    join = session_join(
        account.device_id, session_name="room-1", token=token_for(account.device_id)
    )
    async with platform(amqp_url, account) as link, running(client):
        await link.send(join)
        acks = await link.statuses(join.request_id, 2)
    assert statuses(acks) == [RECEIVED, FAILED]
    assert reason in acks[1].reason
    assert not client.inbox.joined(join.request_id)


async def test_a_ping_is_answered_with_a_pong_from_the_device(
    amqp_url: str, account: DeviceAccount
) -> None:
    client = make_client(account, CountingJoiner(account.device_id))
    async with platform(amqp_url, account) as link, running(client):
        ping_id = await link.send_ping()
        answer = await link.pong(ping_id)
    assert (answer.message.device_id, answer.user_id) == (account.device_id, account.device_id)
    assert answer.message.HasField("answered_at")


async def test_joins_sent_while_the_device_was_down_are_handled_when_it_starts(
    amqp_url: str, account: DeviceAccount
) -> None:
    joiner = CountingJoiner(account.device_id)
    first, second = session_join(account.device_id), session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        await link.send(first)
        await link.send(second)
        async with running(make_client(account, joiner)):
            assert statuses(await link.statuses(first.request_id, 2)) == [RECEIVED, JOINED]
            assert statuses(await link.statuses(second.request_id, 2)) == [RECEIVED, JOINED]
    assert joiner.calls == [first.request_id, second.request_id]


async def test_invalid_messages_are_dropped_and_the_next_join_is_handled(
    amqp_url: str, account: DeviceAccount
) -> None:
    client = make_client(account, CountingJoiner(account.device_id))
    stranger = session_join(new_device_id())  # on this device's key, for another device
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        async with running(client):
            await link.send(b"\xff\xff not protobuf")
            await link.send(stranger)
            await link.send(join)
            await link.statuses(join.request_id, 2)
        assert client.stats.rejected == 2
        assert not [a for a in link.acks if a.message.request_id == stranger.request_id]
        assert await link.depth() == 0, "rejected messages are dropped, not requeued"


async def test_the_client_reconnects_after_the_broker_closes_its_connection(
    amqp_url: str, account: DeviceAccount
) -> None:
    client = make_client(account, CountingJoiner(account.device_id))
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link, running(client):
        await consuming(client)
        rabbitmqctl("close_all_user_connections", account.device_id, "test: connection drop")
        await until(lambda: client.stats.connections >= 2, "a second connection")
        await link.send(join)
        assert statuses(await link.statuses(join.request_id, 2)) == [RECEIVED, JOINED]


async def test_a_deleted_queue_is_waited_for_and_consumed_again_once_recreated(
    amqp_url: str, account: DeviceAccount
) -> None:
    """Revoking a device deletes its queue; the client keeps trying, slowly, and logs it."""
    client = make_client(account, CountingJoiner(account.device_id))
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link, running(client):
        await consuming(client)
        await link.delete_queue()
        await until(lambda: client.stats.queue_missing >= 2, "retries")
        await link.declare_queue()
        await link.send(join)
        assert statuses(await link.statuses(join.request_id, 2)) == [RECEIVED, JOINED]
    assert client.stats.connections == 2


async def test_a_refused_login_is_retried_until_the_credential_works_again(
    amqp_url: str, account: DeviceAccount
) -> None:
    client = make_client(account, CountingJoiner(account.device_id))
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        rabbitmqctl("change_password", account.device_id, "s" + secrets.token_urlsafe(24))
        async with running(client):
            await until(lambda: client.stats.access_refused >= 2, "refusals")
            assert not client.consuming.is_set()
            rabbitmqctl("change_password", account.device_id, account.secret)
            await link.send(join)
            assert statuses(await link.statuses(join.request_id, 2)) == [RECEIVED, JOINED]


async def test_a_message_is_not_acked_while_its_answer_cannot_be_published(
    amqp_url: str, account: DeviceAccount
) -> None:
    """Nothing takes the device's acks at first (unroutable): the JOIN stays in the queue."""
    joiner = CountingJoiner(account.device_id)
    client = make_client(account, joiner)
    join = session_join(account.device_id)
    async with platform(amqp_url, account, bind_acks=False) as link:
        async with running(client):
            await link.send(join)
            await until(lambda: client.stats.answers_failed >= 2, "failures")
            assert joiner.calls == [], "RECEIVED was not confirmed, so the join did not start"
            await link.bind_acks()
            assert statuses(await link.statuses(join.request_id, 2)) == [RECEIVED, JOINED]
        assert joiner.calls == [join.request_id]
        assert await link.depth() == 0


async def test_stopping_finishes_the_message_in_hand(amqp_url: str, account: DeviceAccount) -> None:
    joiner = CountingJoiner(account.device_id, delay=1.0)
    client = make_client(account, joiner)
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        await link.send(join)
        await asyncio.wait_for(joiner.entered.wait(), WAIT)
        stop.set()
        await asyncio.wait_for(task, WAIT)
        acks = await link.statuses(join.request_id, 2)
        assert statuses(acks) == [RECEIVED, JOINED]
        assert await link.depth() == 0


def _device_process(
    account: DeviceAccount, log_dir: Path, *args: str, secret_in_env: bool = True
) -> ServiceProcess:
    env = {
        "IOT_DEVICE_ID": account.device_id,
        "IOT_AMQP_URL": account.broker,
        "IOT_RECONNECT_MAX_SECONDS": "0.5",
        "IOT_DEVICE_SECRET": account.secret if secret_in_env else "",
    }
    return ServiceProcess("iot-device", env, log_dir, args=("run", *args))


def _events(process: ServiceProcess, event: str) -> list[dict[str, Any]]:
    found = []
    for line in process.logs().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


async def test_iot_device_run_joins_logs_the_session_and_exits_0_on_sigterm(
    amqp_url: str, account: DeviceAccount, log_dir: Path
) -> None:
    join = session_join(account.device_id, session_name=f"room-{uuid.uuid4().hex[:6]}")
    async with platform(amqp_url, account) as link:
        process = _device_process(account, log_dir).start()
        try:
            await link.send(join)
            acks = await link.statuses(join.request_id, 2)
            ping_id = await link.send_ping()
            await link.pong(ping_id)
        finally:
            code = process.stop()
        print(process.logs())
        assert statuses(acks) == [RECEIVED, JOINED]
        assert code == 0
        [joined] = _events(process, "joined session")
        assert (joined["request_id"], joined["session_id"], joined["room"]) == (
            join.request_id,
            join.session_id,
            join.session_name,
        )
        assert joined["device"] == account.device_id
        assert _events(process, "stopped")
        assert account.secret not in process.logs()


async def test_iot_device_run_fail_joins_with_the_secret_from_a_file(
    amqp_url: str, account: DeviceAccount, log_dir: Path, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(account.secret + "\n")
    join = session_join(account.device_id)
    async with platform(amqp_url, account) as link:
        process = _device_process(
            account, log_dir, "--fail-joins", "--secret-file", str(secret_file), secret_in_env=False
        ).start()
        try:
            await link.send(join)
            acks = await link.statuses(join.request_id, 2)
        finally:
            code = process.stop()
        print(process.logs())
        assert statuses(acks) == [RECEIVED, FAILED]
        assert "--fail-joins" in acks[1].reason
        assert code == 0
