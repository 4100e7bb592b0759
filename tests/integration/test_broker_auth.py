"""Devices on a real RabbitMQ node that asks the api-gateway: what they may and may not do.

Each test registers devices through the gateway's API (which declares and binds their queues
as guest, the way the platform does), then logs in to the second node as those devices and
asserts RabbitMQ's own answer: the AMQP error it closes the connection or channel with.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiormq
import aiormq.exceptions
import pamqp.exceptions
import pamqp.frame
import pamqp.header
import pytest
from aiormq.abc import AbstractChannel, AbstractConnection
from iot_routing import (
    EXCHANGE,
    JOIN_ACKS,
    PONGS,
    device_queue_name,
    join_acks_key,
    join_key,
    join_requests_key,
    ping_key,
    pongs_key,
)

from tests.integration.device_broker import RABBITMQ_SERVER, DeviceCredential, DeviceGateway
from tests.integration.gateway_fixtures import logged_port
from tests.integration.pipeline import Services, eventually, metric
from tests.support import REPO, wait_until

pytestmark = pytest.mark.integration

GROUP = "lobby"
Operation = Callable[[AbstractChannel], Awaitable[Any]]


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[AbstractConnection]:
    connection = await aiormq.connect(url)
    try:
        yield connection
    finally:
        await connection.close()


@dataclass
class Session:
    """A device's connection, and what RabbitMQ says when it refuses that device something."""

    connection: AbstractConnection
    user: str
    vhost: str

    async def allowed(self, operation: Operation) -> Any:
        channel = await self.connection.channel(publisher_confirms=True)
        try:
            return await operation(channel)
        finally:
            await channel.close()

    async def refused(self, operation: Operation, kind: str, name: str) -> None:
        """operation, on a fresh channel, is refused on `kind` (queue, exchange, topic) `name`."""
        channel = await self.connection.channel(publisher_confirms=True)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as caught:
            await operation(channel)
        assert channel.is_closed
        where = f"in exchange '{EXCHANGE.name}' in vhost" if kind == "topic" else "in vhost"
        assert str(caught.value) == (
            f"ACCESS_REFUSED - access to {kind} '{name}' {where} '{self.vhost}'"
            f" refused for user '{self.user}'"
        )


@asynccontextmanager
async def logged_in(gateway: DeviceGateway, device: DeviceCredential) -> AsyncIterator[Session]:
    async with connected(gateway.amqp_url_for(device)) as connection:
        yield Session(connection, device.device_id, gateway.vhost)


async def login_refused(url: str) -> None:
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError) as caught:
        await aiormq.connect(url)
    assert str(caught.value) == (
        "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."
        " For details see the broker logfile."
    )


async def open_vhost(port: int, username: str, password: str, vhost: str) -> Any:
    """Log in and open vhost by hand; RabbitMQ's answer to Connection.Open (OpenOk or Close).

    aiormq reports a refused Connection.Open as an unexpected frame, without the reply code and
    text this test asserts on.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pending = bytearray()

    async def receive() -> Any:
        while True:
            with contextlib.suppress(pamqp.exceptions.UnmarshalingException):
                consumed, _, frame = pamqp.frame.unmarshal(bytes(pending))
                del pending[:consumed]
                return frame
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            assert chunk, "the broker closed the socket"
            pending.extend(chunk)

    def send(frame: Any) -> None:
        writer.write(pamqp.frame.marshal(frame, 0))

    try:
        writer.write(pamqp.header.ProtocolHeader().marshal())
        assert isinstance(await receive(), aiormq.spec.Connection.Start)
        send(aiormq.spec.Connection.StartOk(response=f"\0{username}\0{password}"))
        tune = await receive()
        assert isinstance(tune, aiormq.spec.Connection.Tune), tune
        send(aiormq.spec.Connection.TuneOk(tune.channel_max, tune.frame_max, 0))
        send(aiormq.spec.Connection.Open(virtual_host=vhost))
        return await receive()
    finally:
        writer.close()


def publish(
    routing_key: str, user_id: str | None = None, exchange: str = EXCHANGE.name
) -> Operation:
    async def operation(channel: AbstractChannel) -> Any:
        confirmation = await channel.basic_publish(
            b"answer",
            exchange=exchange,
            routing_key=routing_key,
            properties=aiormq.spec.Basic.Properties(delivery_mode=2, user_id=user_id),
        )
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)

    return operation


def bind(queue: str, routing_key: str, exchange: str = EXCHANGE.name) -> Operation:
    async def operation(channel: AbstractChannel) -> Any:
        return await channel.queue_bind(queue, exchange, routing_key=routing_key)

    return operation


def consume(queue: str) -> Operation:
    async def operation(channel: AbstractChannel) -> Any:
        return await channel.basic_consume(queue, lambda message: asyncio.sleep(0))

    return operation


@pytest.fixture
def project() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


async def test_a_device_receives_its_join_and_its_groups_ping(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    guest_url = device_gateway.broker.guest_url(device_gateway.vhost)
    async with connected(device_gateway.amqp_url_for(me)) as device, connected(guest_url) as guest:
        channel = await device.channel()
        # Passive declaration needs no permission: the device only checks its queue is there.
        declared = await channel.queue_declare(device_queue_name(me.device_id), passive=True)
        assert declared.message_count == 0
        received: asyncio.Queue[aiormq.abc.DeliveredMessage] = asyncio.Queue()
        await channel.basic_consume(device_queue_name(me.device_id), received.put)
        platform = await guest.channel(publisher_confirms=True)
        for key in (join_key(project, GROUP, me.device_id), ping_key(project, GROUP)):
            await platform.basic_publish(b"hello", exchange=EXCHANGE.name, routing_key=key)
            message = await asyncio.wait_for(received.get(), 10)
            assert message.routing_key == key
            assert message.delivery_tag is not None
            await channel.basic_ack(message.delivery_tag)


async def test_logins_with_a_wrong_password_or_unknown_user_are_refused(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    broker, vhost = device_gateway.broker, device_gateway.vhost
    for url in (
        broker.amqp_url_for(me.device_id, me.password + "x", vhost),
        broker.amqp_url_for(me.device_id, "", vhost),
        broker.amqp_url_for("dev-zzzzzzzzzzzzzzzz", me.password, vhost),
        broker.amqp_url_for("mallory", me.password, vhost),
        broker.amqp_url_for("guest", me.password, vhost),
    ):
        await login_refused(url)
    # The gateway said why, and never logged the password.
    logs = device_gateway.process.logs()
    assert '"reason": "wrong password"' in logs
    assert '"reason": "unknown device"' in logs
    assert '"reason": "not a device user name"' in logs
    assert me.password not in logs
    port = logged_port(device_gateway.process, "http_port")
    assert metric(port, "iot_broker_auth_decisions_total", endpoint="user", result="deny") == 5


async def test_a_revoked_device_is_refused_once_the_cache_time_has_passed(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    url = device_gateway.amqp_url_for(me)
    async with connected(url):
        pass
    device_gateway.revoke(me.device_id)

    async def refused_now() -> bool:
        try:
            connection = await aiormq.connect(url)
        except aiormq.exceptions.ProbableAuthenticationError:
            return True
        except aiormq.exceptions.InvalidFrameError as refused:
            # RabbitMQ may still hold the login itself in its cache and refuse the next step
            # instead, opening the vhost (530 NOT_ALLOWED): refused all the same.
            return "Connection.Close" in str(refused)
        await connection.close()
        return False

    # The gateway's cache time bounds how long a revoked credential still opens connections.
    await eventually(refused_now, device_gateway.cache_seconds + 5, "the revocation to apply")
    assert '"reason": "device revoked"' in device_gateway.process.logs()


async def test_other_vhosts_are_refused(device_gateway: DeviceGateway, project: str) -> None:
    me = device_gateway.register_device(project, GROUP)
    broker = device_gateway.broker
    other = f"{device_gateway.vhost}-other"
    broker.add_vhost(other)
    try:
        for vhost in ("/", other):
            answer = await open_vhost(broker.amqp_port, me.device_id, me.password, vhost)
            assert isinstance(answer, aiormq.spec.Connection.Close)
            assert (answer.reply_code, answer.reply_text) == (
                530,
                f"NOT_ALLOWED - access to vhost '{vhost}' refused for user '{me.device_id}'",
            )
            # aiormq raises too, only without RabbitMQ's code and text (hence open_vhost).
            with pytest.raises(
                aiormq.exceptions.InvalidFrameError, match=r"got <Connection\.Close"
            ):
                await aiormq.connect(device_gateway.amqp_url_for(me, vhost=vhost))
    finally:
        broker.delete_vhost(other)
    opened = await open_vhost(broker.amqp_port, me.device_id, me.password, device_gateway.vhost)
    assert isinstance(opened, aiormq.spec.Connection.OpenOk)
    assert '"reason": "not the device vhost"' in device_gateway.process.logs()


async def test_a_device_may_consume_only_its_own_queue(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    peer = device_gateway.register_device(project, GROUP)
    peers_queue = device_queue_name(peer.device_id)

    async def get(channel: AbstractChannel) -> Any:
        return await channel.basic_get(peers_queue)

    async with logged_in(device_gateway, me) as device:
        await device.allowed(consume(device_queue_name(me.device_id)))
        for queue in (peers_queue, JOIN_ACKS.name, PONGS.name):
            await device.refused(consume(queue), "queue", queue)
        await device.refused(get, "queue", peers_queue)


async def test_a_device_may_bind_only_its_own_keys(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    peer = device_gateway.register_device(project, GROUP)
    stranger = device_gateway.register_device(project, "cellar")
    queue = device_queue_name(me.device_id)
    async with logged_in(device_gateway, me) as device:
        await device.allowed(bind(queue, join_key(project, GROUP, me.device_id)))
        await device.allowed(bind(queue, ping_key(project, GROUP)))
        for key in (
            join_key(project, GROUP, peer.device_id),  # another device of its group
            join_key(project, "cellar", stranger.device_id),  # another group
            ping_key(project, "cellar"),
            f"project.{project}.group.{GROUP}.join.*",
            "#",
            join_acks_key(me.device_id),
        ):
            await device.refused(bind(queue, key), "topic", key)
        # Its own key, but to a queue or from an exchange that is not its own.
        peers_queue = device_queue_name(peer.device_id)
        own_join = join_key(project, GROUP, me.device_id)
        await device.refused(bind(peers_queue, own_join), "queue", peers_queue)
        await device.refused(bind(queue, own_join, exchange="amq.topic"), "exchange", "amq.topic")


async def test_a_device_may_publish_only_its_own_answers(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    peer = device_gateway.register_device(project, GROUP)
    async with logged_in(device_gateway, me) as device:
        for key in (join_acks_key(me.device_id), pongs_key(me.device_id)):
            await device.allowed(publish(key, user_id=me.device_id))
        for key in (
            join_acks_key(peer.device_id),
            pongs_key(peer.device_id),
            join_key(project, GROUP, me.device_id),
            ping_key(project, GROUP),
            join_requests_key(project),
        ):
            await device.refused(publish(key, user_id=me.device_id), "topic", key)
        own_queue = device_queue_name(me.device_id)
        await device.refused(publish(own_queue, exchange=""), "exchange", "amq.default")
        own_ack = join_acks_key(me.device_id)
        await device.refused(publish(own_ack, exchange="amq.topic"), "exchange", "amq.topic")


async def test_the_broker_refuses_an_answer_in_another_devices_name(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    peer = device_gateway.register_device(project, GROUP)
    async with connected(device_gateway.amqp_url_for(me)) as device:
        channel = await device.channel(publisher_confirms=True)
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as caught:
            await publish(join_acks_key(me.device_id), user_id=peer.device_id)(channel)
        assert "user_id property set to" in str(caught.value)


async def test_a_device_declares_and_deletes_nothing(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    own = device_queue_name(me.device_id)
    own_exchange = f"device.{me.device_id}"

    async def declare_own(channel: AbstractChannel) -> Any:
        return await channel.queue_declare(own, durable=True, arguments={"x-queue-type": "quorum"})

    async def declare_exclusive(channel: AbstractChannel) -> Any:
        return await channel.queue_declare("", exclusive=True, auto_delete=True)

    async def declare_exchange(channel: AbstractChannel) -> Any:
        return await channel.exchange_declare(own_exchange, exchange_type="topic")

    async def delete_own(channel: AbstractChannel) -> Any:
        return await channel.queue_delete(own)

    async with logged_in(device_gateway, me) as device:
        await device.refused(declare_own, "queue", own)
        await device.refused(declare_exchange, "exchange", own_exchange)
        await device.refused(delete_own, "queue", own)
        # A server-named queue: the name is RabbitMQ's, the refusal the same.
        channel = await device.connection.channel()
        server_named = r"ACCESS_REFUSED - access to queue 'amq\.gen-"
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match=server_named):
            await declare_exclusive(channel)
        # Still there, still its own.
        await device.allowed(consume(own))


async def test_the_internal_user_guest_still_does_everything(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    queue = f"guest-{uuid.uuid4().hex[:8]}"
    async with connected(device_gateway.broker.guest_url(device_gateway.vhost)) as guest:
        channel = await guest.channel(publisher_confirms=True)
        await channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        await channel.queue_bind(queue, EXCHANGE.name, routing_key="#")
        for key in (join_acks_key(me.device_id), join_key(project, GROUP, me.device_id)):
            await publish(key)(channel)
        await eventually(lambda: _depth(channel, queue, 2), 10, "guest's messages in its own queue")
        await channel.basic_get(device_queue_name(me.device_id), no_ack=True)
        await channel.queue_delete(queue)
    # Internal users never reach the gateway: it was asked nothing at all.
    port = logged_port(device_gateway.process, "http_port")
    assert metric(port, "iot_broker_auth_decisions_total") == 0


async def _depth(channel: AbstractChannel, queue: str, expected: int) -> bool:
    declared = await channel.queue_declare(queue, passive=True)
    return declared.message_count == expected


async def test_a_revoked_device_that_stays_connected_can_no_longer_publish(
    device_gateway: DeviceGateway, project: str
) -> None:
    me = device_gateway.register_device(project, GROUP)
    answer = publish(join_acks_key(me.device_id), user_id=me.device_id)
    async with logged_in(device_gateway, me) as device:
        channel = await device.connection.channel(publisher_confirms=True)
        await answer(channel)
        device_gateway.revoke(me.device_id)

        async def refusal() -> str | None:
            try:
                await answer(channel)
            except aiormq.exceptions.ChannelAccessRefused as exc:
                return str(exc)
            return None

        # RabbitMQ forgets a channel's answers when the channel idles (hibernates, after about
        # a second) and then asks the gateway again; a device answers pings every 15 s.
        reason = await eventually(
            refusal, device_gateway.cache_seconds + 15, "the open channel's refusal", poll=2.0
        )
        assert reason == (
            f"ACCESS_REFUSED - access to exchange '{EXCHANGE.name}' in vhost"
            f" '{device_gateway.vhost}' refused for user '{me.device_id}'"
        )


def test_a_broker_auth_port_in_use_fails_the_start(
    device_gateway: DeviceGateway, device_services: Services
) -> None:
    """A gateway that cannot answer the broker must not run as if it did."""
    taken = logged_port(device_gateway.process, "broker_auth_port")
    second = device_services.start(
        "api-gateway", IOT_GRPC_PORT="0", IOT_BROKER_AUTH_PORT=str(taken)
    )
    wait_until(lambda: not second.running(), 30, "the second gateway to give up")
    assert second.stop() != 0
    assert "address already in use" in second.logs()
    assert '"service starting"' not in second.logs()


def test_enabled_plugins_names_plugins_that_rabbitmq_ships() -> None:
    text = (REPO / "dependencies" / "rabbitmq" / "enabled_plugins").read_text().strip()
    assert text.startswith("[") and text.endswith("].")
    names = text[1:-2].split(",")
    installed = RABBITMQ_SERVER.resolve().parents[1]  # .../rabbitmq_server-<version>
    shipped = {path.name.rsplit("-", 1)[0] for path in (installed / "plugins").iterdir()}
    assert set(names) <= shipped, set(names) - shipped
    assert "rabbitmq_auth_backend_http" in names
