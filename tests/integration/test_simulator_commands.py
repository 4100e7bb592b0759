"""A running sensor-simulator takes commands from its queue and acknowledges them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.command_pb2 import (
    AwakeAction,
    ChangeSampleFrequencyAction,
    CommandAck,
    CommandStatus,
    SensorCommand,
    SleepAction,
)
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_messaging import declare_queue
from iot_routing import (
    COMMAND_ACKS,
    EXCHANGE,
    Command,
    commands_key,
    commands_queue,
    measurements_key,
)

from tests.integration.pipeline import Broker, eventually
from tests.support import ServiceProcess

pytestmark = pytest.mark.integration

APPLIED = CommandStatus.COMMAND_STATUS_APPLIED
DELIVERED = CommandStatus.COMMAND_STATUS_DELIVERED
REJECTED = CommandStatus.COMMAND_STATUS_REJECTED
EXPIRED = CommandStatus.COMMAND_STATUS_EXPIRED
# How long "nothing happens" is watched for after a sensor falls asleep.
QUIET_SECONDS = 1.0


class SensorLink:
    """The test's side of one sensor: send commands, read acknowledgements and batches."""

    def __init__(self, broker: Broker, serial: str) -> None:
        self.broker = broker
        self.serial = serial
        self.tap = f"test.{serial}.measurements.tap"
        self.acks: list[CommandAck] = []
        self.batches: list[MeasurementBatch] = []

    async def open(self) -> SensorLink:
        await declare_queue(self.broker.channel, commands_queue(self.serial))
        await self.broker.channel.queue_declare(self.tap, durable=False)
        await self.broker.channel.queue_bind(
            self.tap, EXCHANGE.name, routing_key=measurements_key(self.serial)
        )
        return self

    async def send(self, action: Command, expires_in: float = 60.0, **fields: object) -> str:
        command_id = uuid.uuid4().hex
        expires = Timestamp()
        expires.FromNanoseconds(time.time_ns() + int(expires_in * 1e9))
        command = SensorCommand(
            command_id=command_id,
            serial_number=self.serial,
            expires_at=expires,
            **fields,  # type: ignore[arg-type]
        )
        await self.broker.publish(commands_key(self.serial, action), command.SerializeToString())
        return command_id

    async def outcome(self, command_id: str) -> CommandAck:
        async def final() -> CommandAck | None:
            self.acks += [
                CommandAck.FromString(b) for b in await self.broker.take_all(COMMAND_ACKS.name)
            ]
            found = [a for a in self.acks if a.command_id == command_id]
            final = [a for a in found if a.status != DELIVERED]
            if final:
                assert found[0].status == DELIVERED, "DELIVERED comes first"
                return final[0]
            return None

        return await eventually(final, 30, f"the outcome of command {command_id}")

    async def read_batches(self) -> list[MeasurementBatch]:
        self.batches += [
            MeasurementBatch.FromString(b) for b in await self.broker.take_all(self.tap)
        ]
        return self.batches


def _simulator(amqp_url: str, serial: str, log_dir: Path, hz: str) -> ServiceProcess:
    return ServiceProcess(
        "sensor-simulator",
        {
            "IOT_AMQP_URL": amqp_url,
            "IOT_SENSOR_SERIAL": serial,
            "IOT_SAMPLE_FREQUENCY_HZ": hz,
            "IOT_HTTP_PORT": "0",
        },
        log_dir,
    )


def _logged_rejection(process: ServiceProcess, command_id: str) -> bool:
    """The simulator logged the rejected command as a warning, with the reason."""
    for line in process.logs().splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("command_id") == command_id:
                return bool(
                    event.get("level") == "warning"
                    and event.get("status") == "COMMAND_STATUS_REJECTED"
                    and "sample frequency" in str(event.get("reason"))
                )
    return False


def _end_ns(batch: MeasurementBatch) -> int:
    return batch.first_sample_time.ToNanoseconds() + int(
        (len(batch.samples) - 1) * 1e9 / batch.sample_rate_hz
    )


async def test_sleep_awake_and_frequency_change_on_a_running_sensor(
    amqp_url: str, log_dir: Path
) -> None:
    serial = "cmd-live-1"
    async with Broker(amqp_url) as broker:
        link = await SensorLink(broker, serial).open()
        process = _simulator(amqp_url, serial, log_dir, "1000").start()
        try:
            await eventually(link.read_batches, 30, "the first batches")

            slept = await link.outcome(await link.send(Command.SLEEP, sleep=SleepAction()))
            assert (slept.status, slept.reported.asleep) == (APPLIED, True)
            await link.read_batches()
            await asyncio.sleep(QUIET_SECONDS)  # watching for batches that must not come
            asleep_batches = len(await link.read_batches())
            assert all(_end_ns(b) <= slept.acked_at.ToNanoseconds() for b in link.batches), (
                "no sample is taken after the sleep was applied"
            )

            change = ChangeSampleFrequencyAction(sample_frequency_hz=200)
            changed = await link.outcome(
                await link.send(Command.CHANGE_SAMPLE_FREQUENCY, change_sample_frequency=change)
            )
            assert (changed.status, changed.reported.asleep) == (APPLIED, True)
            assert changed.reported.sample_frequency_hz == 200

            woke = await link.outcome(await link.send(Command.AWAKE, awake=AwakeAction()))
            assert (woke.status, woke.reported.asleep) == (APPLIED, False)

            async def batches_after_wake() -> list[MeasurementBatch] | None:
                new = (await link.read_batches())[asleep_batches:]
                return new if sum(len(b.samples) for b in new) >= 400 else None

            resumed = await eventually(batches_after_wake, 30, "batches after waking up")
            assert {b.sample_rate_hz for b in resumed} == {200.0}
            assert resumed[0].first_sample_time.ToNanoseconds() >= slept.acked_at.ToNanoseconds()

            bad = ChangeSampleFrequencyAction(sample_frequency_hz=0)
            rejected = await link.outcome(
                await link.send(Command.CHANGE_SAMPLE_FREQUENCY, change_sample_frequency=bad)
            )
            assert rejected.status == REJECTED
            assert "sample frequency" in rejected.reason
            assert rejected.reported.sample_frequency_hz == 200
            assert process.running()
            assert _logged_rejection(process, rejected.command_id)
        finally:
            assert process.stop(timeout=15) == 0


async def test_commands_sent_while_the_sensor_is_down_apply_when_it_starts(
    amqp_url: str, log_dir: Path
) -> None:
    serial = "cmd-down-1"
    async with Broker(amqp_url) as broker:
        link = await SensorLink(broker, serial).open()
        change = ChangeSampleFrequencyAction(sample_frequency_hz=50)
        changed_id = await link.send(
            Command.CHANGE_SAMPLE_FREQUENCY, change_sample_frequency=change
        )
        stale_id = await link.send(Command.SLEEP, expires_in=-1.0, sleep=SleepAction())
        process = _simulator(amqp_url, serial, log_dir, "1000").start()
        try:
            changed = await link.outcome(changed_id)
            assert (changed.status, changed.reported.sample_frequency_hz) == (APPLIED, 50)
            stale = await link.outcome(stale_id)
            assert (stale.status, stale.reported.asleep) == (EXPIRED, False)

            async def streaming_at_50_hz() -> bool:
                return any(b.sample_rate_hz == 50 for b in await link.read_batches())

            await eventually(streaming_at_50_hz, 30, "batches at the commanded 50 Hz")
        finally:
            assert process.stop(timeout=15) == 0
