"""Take this sensor's commands from its durable queue, apply them, acknowledge them.

A command is acked to RabbitMQ only after the sensor's acknowledgement of its outcome has been
confirmed by the broker: a crash in between redelivers the command, applying it again changes
nothing (commands set states), and the acknowledgement is repeated alike. Commands sent while
the sensor was down wait in its queue and are taken when it is back, unless they expired.
Commands are taken one at a time (prefetch 1), in the order they were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiormq.abc import AbstractConnection, DeliveredMessage
from iot.v1.command_pb2 import CommandStatus
from iot_messaging import BROKER_ERRORS, connect_with_retry, declare_topology
from iot_routing import command_acks_key, commands_queue

from sensor_simulator.app import MessagePublisher, Simulator
from sensor_simulator.commands import (
    InvalidCommandError,
    Outcome,
    acknowledgement,
    apply_command,
    decode_command,
)


class CommandConsumer:
    """Consumes sensor.<serial>.commands for the simulator, reconnecting as needed."""

    def __init__(
        self,
        url: str,
        simulator: Simulator,
        publisher: MessagePublisher,
        log: Any,
        max_delay: float = 10.0,
        *,
        declare_exchanges: bool = True,
    ) -> None:
        self._url = url
        self._declare_exchanges = declare_exchanges
        self._simulator = simulator
        self._publisher = publisher
        self._log = log
        self._max_delay = max_delay
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Wait until the sensor samples, then consume until stop is set."""
        self._stop = stop
        sampling = asyncio.ensure_future(self._simulator.sampling.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({sampling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        sampling.cancel()
        stopped.cancel()
        while not stop.is_set():
            connection = await connect_with_retry(self._url, self._log, stop, self._max_delay)
            if connection is None:
                return
            await self._consume(connection, stop)

    async def _consume(self, connection: AbstractConnection, stop: asyncio.Event) -> None:
        sensor = self._simulator.sensor
        assert sensor is not None  # run() waits for sampling to start
        queue = commands_queue(sensor.serial)
        try:
            channel = await connection.channel(publisher_confirms=False)
            await declare_topology(channel, queue, exchanges=self._declare_exchanges)
            await channel.basic_qos(prefetch_count=1)
            await channel.basic_consume(queue.name, self._on_message)
            self._log.info("taking commands", queue=queue.name)
            closed = asyncio.ensure_future(connection.closing)
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not stop.is_set():
                self._log.warning("command connection lost; reconnecting")
        except BROKER_ERRORS as exc:
            self._log.warning("command channel failed", error=repr(exc))
        finally:
            if not connection.is_closed:
                with contextlib.suppress(*BROKER_ERRORS):
                    await connection.close()

    async def _on_message(self, message: DeliveredMessage) -> None:
        sensor = self._simulator.sensor
        tag = message.delivery_tag
        if sensor is None or tag is None:
            return
        clock = self._simulator.wall_clock
        try:
            command = decode_command(message.body, sensor.serial)
        except InvalidCommandError as exc:
            # Nothing to acknowledge it to; drop it (the queue has no dead-letter queue).
            self._log.warning("command dropped", reason=str(exc))
            with contextlib.suppress(*BROKER_ERRORS):
                await message.channel.basic_reject(tag, requeue=False)
            return
        key = command_acks_key(sensor.serial)
        delivered = Outcome(CommandStatus.COMMAND_STATUS_DELIVERED)
        if not await self._publisher.publish_until_confirmed(
            key, acknowledgement(sensor, command.command_id, delivered, clock.now_ns()), self._stop
        ):
            return  # stopping: the command stays in the queue for the next start
        outcome = apply_command(sensor, command, clock.now_ns())
        self._simulator.wake()
        # A command not applied (rejected, expired) is worth an operator's attention.
        applied = outcome.status == CommandStatus.COMMAND_STATUS_APPLIED
        (self._log.info if applied else self._log.warning)(
            "command taken",
            command_id=command.command_id,
            action=command.WhichOneof("action"),
            status=CommandStatus.Name(outcome.status),
            reason=outcome.reason or None,
            asleep=sensor.asleep,
            sample_frequency_hz=sensor.sample_frequency_hz,
        )
        ack = acknowledgement(sensor, command.command_id, outcome, clock.now_ns())
        if await self._publisher.publish_until_confirmed(key, ack, self._stop):
            with contextlib.suppress(*BROKER_ERRORS):
                await message.channel.basic_ack(tag)
