"""The sensor-registry turns real heartbeats into presence and reported state, and a real
sensor-simulator keeps sending them while asleep."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.command_pb2 import SensorCommand, SleepAction
from iot_messaging import declare_queue
from iot_routing import HEARTBEATS, Command, commands_key, commands_queue, heartbeat_key

from tests.control_messages import heartbeat, heartbeat_message
from tests.integration.control_plane import (
    US,
    add_command,
    add_sensor,
    at,
    command,
    dead_letter_of,
    now_us,
    sensor,
)
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import Broker, Services, eventually, http_port, metric, query
from tests.messages import mutated
from tests.support import ServiceProcess

pytestmark = pytest.mark.integration

PROCESSED = "iot_messages_processed_total"
DEAD_LETTER = dead_letter_of(HEARTBEATS)


class Presence:
    """A running sensor-registry, fed heartbeats by the test."""

    def __init__(self, process: ServiceProcess, broker: Broker) -> None:
        self.process = process
        self.port = http_port(process)
        self.broker = broker
        self.published = 0

    async def beat(self, serial: str, body: bytes) -> None:
        await self.broker.publish(heartbeat_key(serial), body)
        self.published += 1

    async def all_taken(self) -> None:
        """Wait until every heartbeat published so far was stored (or dead-lettered)."""

        async def taken() -> bool:
            done = metric(self.port, PROCESSED, queue=HEARTBEATS.name)
            return done + await self.broker.depth(DEAD_LETTER) >= self.published

        await eventually(taken, 30, f"{self.published} heartbeats to be taken")


async def test_the_newest_heartbeat_sets_presence_and_reported_state(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_sensor(db, "hb-1", frequency=100.0)
    t1 = now_us() - 10 * US
    t2, t3 = t1 + US, t1 + 2 * US
    async with Broker(amqp_url) as broker:
        presence = Presence(services.start("sensor-registry"), broker)
        await presence.beat("hb-1", heartbeat_message("hb-1", t1, interval=5.0))
        await presence.beat(
            "hb-1", heartbeat_message("hb-1", t3, interval=7.0, asleep=True, frequency=20.0)
        )
        await presence.all_taken()
        newest = sensor(db, "hb-1")
        # An older heartbeat delivered late (and a redelivered one) change nothing.
        await presence.beat("hb-1", heartbeat_message("hb-1", t2, interval=9.0, frequency=1.0))
        await presence.beat(
            "hb-1", heartbeat_message("hb-1", t3, interval=7.0, asleep=True, frequency=20.0)
        )
        await presence.all_taken()
    assert (newest["last_heartbeat_at"], newest["heartbeat_interval_s"]) == (at(t3), 7.0)
    assert (newest["reported_asleep"], newest["sample_frequency_hz"]) == (True, 20.0)
    assert newest["reported_at"] == at(t3)
    assert sensor(db, "hb-1") == newest


async def test_a_heartbeat_from_a_clock_ahead_counts_as_heard_now(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "hb-2")
    ahead = now_us() + 3600 * US
    async with Broker(amqp_url) as broker:
        presence = Presence(services.start("sensor-registry"), broker)
        await presence.beat("hb-2", heartbeat_message("hb-2", ahead, interval=5.0))
        await presence.all_taken()
    row = sensor(database.admin_url, "hb-2")
    # Capped at the server's clock: the sensor does not stay "online" for an hour of silence.
    assert row["last_heartbeat_at"] <= datetime.now(UTC)
    assert row["last_heartbeat_at"] > datetime.now(UTC) - timedelta(minutes=1)
    assert row["reported_at"] == at(ahead), "reports are ordered by the sensor's own clock"


async def test_heartbeats_of_unknown_sensors_are_counted_not_stored(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "hb-3")
    sent = now_us() - US
    async with Broker(amqp_url) as broker:
        presence = Presence(services.start("sensor-registry"), broker)
        await presence.beat("hb-4", heartbeat_message("hb-4", sent))
        await presence.beat("hb-3", heartbeat_message("hb-3", sent))
        await presence.all_taken()
        unknown = metric(presence.port, "iot_heartbeats_unknown_sensor_total")
        assert await broker.depth(DEAD_LETTER) == 0
    assert unknown == 1
    assert query(database.admin_url, "SELECT serial_number FROM sensors") == [("hb-3",)]
    assert sensor(database.admin_url, "hb-3")["last_heartbeat_at"] == at(sent)


async def test_invalid_heartbeats_are_dead_lettered_and_valid_ones_stored(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "hb-5")
    sent = now_us() - US

    def invalid_variant(**changes: object) -> bytes:
        return mutated(heartbeat("hb-5", sent), **changes)

    invalid = [
        b"\xff\xff\xff",
        heartbeat_message("hb-6", sent),  # another sensor's serial on hb-5's key
        invalid_variant(sent_at=None),
        invalid_variant(interval_seconds=0.0),
        invalid_variant(interval_seconds=float("nan")),
        heartbeat_message("hb-5", sent, frequency=-1.0),
    ]
    async with Broker(amqp_url) as broker:
        presence = Presence(services.start("sensor-registry"), broker)
        await presence.beat("hb-5", heartbeat_message("hb-5", sent, interval=3.0))
        for body in invalid:
            await presence.beat("hb-5", body)
        await presence.beat("hb-5", heartbeat_message("hb-5", sent + 1, interval=4.0))

        async def all_dead_lettered() -> bool:
            return await broker.depth(DEAD_LETTER) == len(invalid)

        await eventually(all_dead_lettered, 30, "every invalid heartbeat dead-lettered")
        await presence.all_taken()
    row = sensor(database.admin_url, "hb-5")
    assert (row["last_heartbeat_at"], row["heartbeat_interval_s"]) == (at(sent + 1), 4.0)
    assert presence.process.logs().count('"message dead-lettered"') == len(invalid)


async def test_a_sleeping_simulator_keeps_sending_heartbeats(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    serial = "hb-sim-1"
    db = database.admin_url
    services.start("sensor-registry")
    async with Broker(amqp_url) as broker:
        await declare_queue(broker.channel, commands_queue(serial))
        services.start(
            "sensor-simulator",
            IOT_SENSOR_SERIAL=serial,
            IOT_SAMPLE_FREQUENCY_HZ="10",
            IOT_HEARTBEAT_SECONDS="0.2",
        )

        async def heard() -> bool:
            rows = query(
                db,
                "SELECT 1 FROM sensors WHERE serial_number = %s AND last_heartbeat_at IS NOT NULL",
                serial,
            )
            return bool(rows)

        await eventually(heard, 60, "the simulator's registration and first heartbeat")
        # The gateway's part, done by hand: record the command, then publish it.
        command_id = add_command(db, serial, "sleep")
        expires = Timestamp()
        expires.FromNanoseconds(time.time_ns() + 60 * 10**9)
        sleep = SensorCommand(
            command_id=command_id, serial_number=serial, sleep=SleepAction(), expires_at=expires
        )
        await broker.publish(commands_key(serial, Command.SLEEP), sleep.SerializeToString())

        async def applied() -> dict[str, object] | None:
            row = command(db, command_id)
            return row if row["status"] == "applied" else None

        outcome = await eventually(applied, 30, "the sleep command to be applied")
        assert outcome["reported_asleep"] is True
        asleep_since = outcome["acked_at"]
        assert isinstance(asleep_since, datetime)

        async def beating_while_asleep() -> dict[str, object] | None:
            row = sensor(db, serial)
            later = row["last_heartbeat_at"] > asleep_since and row["reported_at"] > asleep_since
            return row if later else None

        # Heartbeats sent after the sleep: presence advances and the state stays asleep.
        first = await eventually(beating_while_asleep, 30, "a heartbeat while asleep")

        async def still_beating() -> dict[str, object] | None:
            row = sensor(db, serial)
            return row if row["last_heartbeat_at"] > first["last_heartbeat_at"] else None

        second = await eventually(still_beating, 30, "presence to keep advancing")
    for row in (first, second):
        assert (row["reported_asleep"], row["heartbeat_interval_s"]) == (True, 0.2)
        assert row["sample_frequency_hz"] == 10.0
