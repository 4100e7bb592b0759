"""Heartbeats: the due-time grid, the message, and the sender against an in-memory publisher."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf.message import Message
from iot.v1.heartbeat_pb2 import SensorHeartbeat
from iot.v1.sensor_pb2 import SensorRegistration
from iot_messaging import PublishError
from iot_routing import heartbeat_key
from sensor_simulator import app
from sensor_simulator.heartbeat import HeartbeatSchedule, heartbeat
from sensor_simulator.heartbeat_sender import HeartbeatSender
from sensor_simulator.sensor import Sensor

from tests.unit.test_simulator_app import SERIAL, FakePublisher, Harness, until

NOW_NS = 1_795_000_000 * 10**9
INTERVAL = 0.02


def test_due_times_stay_on_their_grid() -> None:
    schedule = HeartbeatSchedule(5.0, start=100.0)
    assert schedule.next_due == 100.0
    assert schedule.advance(100.3) == 0
    assert schedule.next_due == 105.0
    # Handled late, but before the next due time: nothing skipped, the grid does not slip.
    assert schedule.advance(109.9) == 0
    assert schedule.next_due == 110.0
    for _ in range(1_000):
        schedule.advance(schedule.next_due)
    assert schedule.next_due == 110.0 + 1_000 * 5.0


def test_due_times_that_passed_are_skipped_not_made_up() -> None:
    schedule = HeartbeatSchedule(5.0, start=0.0)
    # The heartbeat due at 0 is handled at 17: the ones due at 5, 10 and 15 are skipped.
    assert schedule.advance(17.0) == 3
    assert schedule.next_due == 20.0
    assert schedule.advance(20.0) == 0
    assert schedule.next_due == 25.0


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan"), float("inf")])
def test_an_unusable_interval_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        HeartbeatSchedule(interval, start=0.0)


def test_the_heartbeat_reports_the_sensor_state() -> None:
    sensor = Sensor(SERIAL, 100.0, NOW_NS)
    sensor.sleep(NOW_NS + 1)
    sensor.change_sample_frequency(20.0, NOW_NS + 2)
    beat = heartbeat(sensor, "boot-7", 5.0, NOW_NS + 3)
    assert (beat.serial_number, beat.boot_id, beat.interval_seconds) == (SERIAL, "boot-7", 5.0)
    assert beat.sent_at.ToNanoseconds() == NOW_NS + 3
    assert (beat.reported.asleep, beat.reported.sample_frequency_hz) == (True, 20.0)


class HeartbeatPublisher(FakePublisher):
    """Adds the single-attempt publish heartbeats use: confirm, hang, or fail."""

    def __init__(self) -> None:
        super().__init__()
        self.beats: list[tuple[str, SensorHeartbeat]] = []
        self.beat_attempts = 0
        self.beat_mode = "confirm"

    async def publish(
        self,
        routing_key: str,
        message: Message,
        *,
        expiration_ms: int | None = None,
        timeout: float = 10.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.beat_attempts += 1
        if self.beat_mode == "hang":
            await asyncio.Event().wait()  # a broker that never answers
        if self.beat_mode == "fail":
            raise PublishError("broker refused")
        assert isinstance(message, SensorHeartbeat)
        self.beats.append((routing_key, message))


class Beating:
    """A running simulator plus its heartbeat sender."""

    def __init__(
        self, publisher: HeartbeatPublisher | None = None, interval: float = INTERVAL
    ) -> None:
        self.publisher = publisher or HeartbeatPublisher()
        self.harness = Harness(self.publisher)
        self.sender = HeartbeatSender(
            self.harness.simulator,
            self.publisher,
            self.harness.log,
            self.harness.metrics,
            interval,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Beating:
        self.harness.start()
        self.task = asyncio.create_task(self.sender.run(self.harness.stop))
        return self

    async def finish(self) -> None:
        await self.harness.finish()
        assert self.task is not None
        await asyncio.wait_for(self.task, 1.0)


async def test_heartbeats_follow_the_registration_and_continue_while_asleep() -> None:
    beating = Beating().start()
    publisher = beating.publisher
    await until(lambda: len(publisher.beats) >= 3, "three heartbeats")
    sensor = beating.harness.simulator.sensor
    assert sensor is not None
    sensor.sleep(beating.harness.wall.now_ns())
    beating.harness.simulator.wake()
    awake_beats = len(publisher.beats)
    await until(lambda: len(publisher.beats) >= awake_beats + 3, "heartbeats while asleep")
    await beating.finish()

    registration = next(m for _, m in publisher.sent if isinstance(m, SensorRegistration))
    keys = {key for key, _ in publisher.beats}
    assert keys == {heartbeat_key(SERIAL)}
    beats = [beat for _, beat in publisher.beats]
    assert {beat.boot_id for beat in beats} == {registration.firmware.boot_id}
    assert {beat.interval_seconds for beat in beats} == {INTERVAL}
    assert beats[0].sent_at.ToNanoseconds() >= registration.sent_at.ToNanoseconds()
    assert not any(beat.reported.asleep for beat in beats[:awake_beats])
    assert all(beat.reported.asleep for beat in beats[awake_beats + 1 :])
    assert {beat.reported.sample_frequency_hz for beat in beats} == {1_000.0}
    sent_at = [beat.sent_at.ToNanoseconds() for beat in beats]
    assert sent_at == sorted(sent_at)
    assert beating.harness.metric("heartbeats_published_total") == len(beats)


async def test_an_unconfirmed_heartbeat_makes_the_next_ones_skip_not_queue() -> None:
    beating = Beating().start()
    publisher = beating.publisher
    await until(lambda: publisher.beats, "the first heartbeat")
    publisher.beat_mode = "hang"
    await until(lambda: beating.harness.metric("heartbeats_skipped_total") >= 3, "skips")
    # One attempt hangs; every later due heartbeat is skipped instead of piling up behind it.
    assert publisher.beat_attempts == len(publisher.beats) + 1
    # Sampling goes on meanwhile.
    batches = len(publisher.batches())
    await until(lambda: len(publisher.batches()) > batches + 3, "batches during the outage")
    assert "heartbeat skipped" in beating.harness.log.events("warning")
    await beating.finish()  # the hung heartbeat does not hold up the shutdown


async def test_a_failed_heartbeat_is_logged_and_the_next_one_goes_out() -> None:
    beating = Beating().start()
    publisher = beating.publisher
    publisher.beat_mode = "fail"
    await until(lambda: publisher.beat_attempts >= 2, "two failed attempts")
    publisher.beat_mode = "confirm"
    await until(lambda: publisher.beats, "a heartbeat after the failures")
    await beating.finish()
    assert beating.harness.metric("heartbeats_skipped_total") >= 2
    assert "heartbeat skipped" in beating.harness.log.events("warning")


async def test_no_heartbeat_before_the_registration_is_confirmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "SHUTDOWN_GRACE_SECONDS", 0.05)
    publisher = HeartbeatPublisher()
    publisher.hang = True  # the first boot log line never gets confirmed
    beating = Beating(publisher, interval=0.001).start()
    await until(lambda: publisher.attempts == 1, "the boot to start")
    for _ in range(20):
        await asyncio.sleep(0.005)  # several intervals' worth of chances to send one
    assert publisher.beat_attempts == 0
    await beating.finish()
