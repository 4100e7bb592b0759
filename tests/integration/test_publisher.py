"""The confirmed publisher against the real broker: confirms, refusals and unroutable keys."""

from __future__ import annotations

import asyncio

import aiormq
import pytest
import structlog
from iot.v1.log_pb2 import SensorLog
from iot_messaging import Publisher, PublishError
from iot_routing import LOGS, logs_key

from tests.integration.pipeline import Broker

pytestmark = pytest.mark.integration


async def test_a_confirmed_message_is_in_its_queue(amqp_url: str) -> None:
    publisher = Publisher(amqp_url, structlog.get_logger(), declare=(LOGS,))
    try:
        await publisher.publish(logs_key("pub-1"), SensorLog(serial_number="pub-1", sequence=1))
    finally:
        await publisher.close()
    async with Broker(amqp_url) as broker:
        bodies = await broker.take_all(LOGS.name)
    assert [SensorLog.FromString(b).serial_number for b in bodies] == ["pub-1"]


async def test_an_unroutable_message_is_an_error_not_a_silent_drop(amqp_url: str) -> None:
    publisher = Publisher(amqp_url, structlog.get_logger())  # declares no queue
    try:
        with pytest.raises(PublishError):
            await publisher.publish(logs_key("pub-1"), SensorLog(serial_number="pub-1"))
    finally:
        await publisher.close()


async def test_an_unroutable_message_not_mandatory_is_confirmed_and_dropped(
    amqp_url: str,
) -> None:
    """For broadcasts that may have no listener (presence pings)."""
    publisher = Publisher(amqp_url, structlog.get_logger())  # declares no queue
    try:
        await publisher.publish("nowhere", SensorLog(serial_number="pub-1"), mandatory=False)
        assert publisher.connected
    finally:
        await publisher.close()


async def test_a_channel_that_cannot_be_set_up_is_a_publish_error(amqp_url: str) -> None:
    """A queue declared elsewhere with other arguments makes our declaration fail."""
    connection = await aiormq.connect(amqp_url)
    channel = await connection.channel()
    await channel.queue_declare(LOGS.name, durable=True)  # classic, not quorum
    await connection.close()
    publisher = Publisher(amqp_url, structlog.get_logger(), declare=(LOGS,))
    try:
        with pytest.raises(PublishError, match="cannot open a publishing channel"):
            await publisher.publish(logs_key("pub-1"), SensorLog(serial_number="pub-1"))
        assert not publisher.connected
    finally:
        await publisher.close()


async def test_a_refused_message_fails_alone_among_concurrent_publishes(amqp_url: str) -> None:
    """A returned (or nacked) message leaves the channel, and the others' confirms, intact."""
    publisher = Publisher(amqp_url, structlog.get_logger(), declare=(LOGS,))
    try:
        await publisher.ensure_channel()
        results = await asyncio.gather(
            *(publisher.publish(logs_key("pub-2"), SensorLog(sequence=n)) for n in range(20)),
            publisher.publish("nowhere", SensorLog(sequence=99)),  # unroutable: returned
            return_exceptions=True,
        )
        assert results[:20] == [None] * 20
        assert isinstance(results[20], PublishError)
        assert publisher.connected
    finally:
        await publisher.close()


async def test_publishes_whose_channel_closes_under_them_are_publish_errors(amqp_url: str) -> None:
    """Never a bare Exception or CancelledError from aiormq: callers catch PublishError."""
    publisher = Publisher(amqp_url, structlog.get_logger(), declare=(LOGS,))
    await publisher.ensure_channel()

    async def close_soon() -> None:
        await asyncio.sleep(0.001)
        await publisher.close()

    results = await asyncio.gather(
        *(publisher.publish(logs_key("pub-3"), SensorLog(sequence=n)) for n in range(200)),
        close_soon(),
        return_exceptions=True,
    )
    await publisher.close()
    assert all(r is None or isinstance(r, PublishError) for r in results), {
        type(r).__name__ for r in results
    }
