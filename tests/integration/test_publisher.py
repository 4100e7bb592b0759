"""The confirmed publisher against the real broker: confirms, refusals and unroutable keys."""

from __future__ import annotations

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
