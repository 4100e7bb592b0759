"""The simulator's loop against an in-memory publisher: boot order, streaming, stop, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from google.protobuf.message import Message
from iot.v1 import log_pb2, measurement_pb2, sensor_pb2
from iot_routing import logs_key, measurements_key, registry_key
from iot_service import Health, ServiceMetrics
from sensor_simulator import SERVICE, app
from sensor_simulator.app import Simulator
from sensor_simulator.clock import WallClock
from sensor_simulator.config import SimulatorSettings
from sensor_simulator.messages import timestamp_ns
from sensor_simulator.metrics import SimulatorMetrics

SERIAL = "unit-sim"


class FakePublisher:
    """Confirms instantly, or never (a hung broker)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.hang = hang
        self.attempts = 0
        self.closed = False

    async def publish_until_confirmed(
        self, routing_key: str, message: Message, stop: asyncio.Event | None = None
    ) -> bool:
        self.attempts += 1
        if self.hang:
            await asyncio.Event().wait()  # ignores stop, as a stuck socket would
        self.sent.append((routing_key, message))
        return True

    async def close(self) -> None:
        self.closed = True

    def batches(self) -> list[measurement_pb2.MeasurementBatch]:
        return [m for k, m in self.sent if isinstance(m, measurement_pb2.MeasurementBatch)]


class RecordingLog:
    """Stands in for a structlog logger and keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self, **_: Any) -> RecordingLog:
        return self

    def _record(self, level: str) -> Callable[..., None]:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level in ("debug", "info", "warning", "error"):
            return self._record(level)
        raise AttributeError(level)

    def events(self, level: str) -> list[str]:
        return [event for lvl, event, _ in self.lines if lvl == level]


class Harness:
    def __init__(self, publisher: FakePublisher, **settings: Any) -> None:
        self.publisher = publisher
        self.log = RecordingLog()
        self.health = Health("amqp")
        self.metrics = SimulatorMetrics(ServiceMetrics(SERVICE))
        self.wall = WallClock()
        defaults: dict[str, Any] = {
            "sensor_serial": SERIAL,
            "sample_frequency_hz": 1_000.0,
            "batch_interval_seconds": 0.02,
            "reconnect_max_seconds": 0.2,
        }
        self.simulator = Simulator(
            SimulatorSettings(**(defaults | settings)),
            publisher,
            self.log,
            self.health,
            self.metrics,
            wall_clock=self.wall,
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Harness:
        self.task = asyncio.create_task(self.simulator.run(self.stop))
        return self

    async def finish(self, timeout: float = 5.0) -> float:
        """Set stop and return how long the simulator took to return."""
        assert self.task is not None
        started = time.monotonic()
        self.stop.set()
        await asyncio.wait_for(self.task, timeout)
        return time.monotonic() - started

    def metric(self, name: str) -> float:
        value = self.metrics.registry.get_sample_value(f"iot_{name}", {"service": SERVICE})
        assert value is not None, name
        return value


async def until(probe: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Let the event loop run until probe() is truthy; fail at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if probe():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_boots_then_streams_contiguous_batches_and_stops_cleanly() -> None:
    harness = Harness(FakePublisher()).start()
    await until(lambda: len(harness.publisher.batches()) >= 5, "five batches")
    assert harness.health.not_ready() == []
    elapsed = await harness.finish()
    assert elapsed < 1.0
    assert harness.publisher.closed
    assert harness.health.not_ready() == ["amqp"]

    keys = [key for key, _ in harness.publisher.sent]
    assert keys[:4] == [logs_key(SERIAL)] * 3 + [registry_key(SERIAL)]
    assert set(keys[4:]) == {measurements_key(SERIAL)}
    boot_lines = [m for _, m in harness.publisher.sent[:3]]
    assert all(isinstance(m, log_pb2.SensorLog) for m in boot_lines)
    assert [m.message for m in boot_lines if isinstance(m, log_pb2.SensorLog)][::2] == [
        "System powering on",
        "Self-test result: PASSED",
    ]
    registration = harness.publisher.sent[3][1]
    assert isinstance(registration, sensor_pb2.SensorRegistration)
    assert registration.sample_frequency_hz == 1_000.0
    assert len(registration.firmware.boot_id) == 32

    batches = harness.publisher.batches()
    sequences = [b.sequence for b in batches]
    assert sequences == sorted(set(sequences))
    for previous, batch in pairwise(batches):
        end = timestamp_ns(previous.first_sample_time) + len(previous.samples) * 1_000_000
        assert timestamp_ns(batch.first_sample_time) == end
    total = sum(len(b.samples) for b in batches)
    assert harness.metric("samples_generated_total") == total
    assert harness.metric("batches_published_total") == len(batches)
    assert harness.metric("sample_frequency_hz") == 1_000.0
    assert "registered" in harness.log.events("info")


async def test_batches_respect_max_batch_samples() -> None:
    harness = Harness(FakePublisher(), sample_frequency_hz=25_000.0, max_batch_samples=300)
    harness.start()
    await until(lambda: len(harness.publisher.batches()) >= 20, "twenty batches")
    await harness.finish()
    assert {len(b.samples) for b in harness.publisher.batches()} == {300}


async def test_stop_during_a_hung_publish_returns_within_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "SHUTDOWN_GRACE_SECONDS", 0.2)
    harness = Harness(FakePublisher(hang=True)).start()
    await until(lambda: harness.publisher.attempts == 1, "the first publish to start")
    elapsed = await harness.finish()
    assert elapsed < 1.0
    assert harness.publisher.closed
    assert "stopped with a publish unconfirmed" in harness.log.events("warning")


async def test_sleep_stops_batches_and_awake_resumes_at_the_wake_time() -> None:
    harness = Harness(FakePublisher()).start()
    await until(harness.publisher.batches, "the first batch")
    sensor = harness.simulator.sensor
    assert sensor is not None

    sensor.sleep(harness.wall.now_ns())
    harness.simulator.wake()
    await until(lambda: not sensor.clock.segments, "the samples taken before sleeping to go")
    asleep_count = len(harness.publisher.batches())
    # Asleep: the loop has nothing to plan; give it several intervals' worth of chances.
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert len(harness.publisher.batches()) == asleep_count

    sensor.change_sample_frequency(200.0, harness.wall.now_ns())
    woke_at = harness.wall.now_ns()
    sensor.awake(woke_at)
    harness.simulator.wake()
    await until(lambda: len(harness.publisher.batches()) > asleep_count, "a batch after waking")
    await harness.finish()
    first_after = harness.publisher.batches()[asleep_count]
    assert timestamp_ns(first_after.first_sample_time) == woke_at
    assert first_after.sample_rate_hz == 200.0
    assert harness.metric("sample_frequency_hz") == 200.0
    assert harness.metric("samples_dropped_total") == 0


async def test_a_publish_blocked_for_long_marks_the_service_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "NOT_READY_AFTER_SECONDS", 0.05)
    monkeypatch.setattr(app, "SHUTDOWN_GRACE_SECONDS", 0.05)
    publisher = FakePublisher()
    harness = Harness(publisher).start()
    await until(publisher.batches, "the first batch")
    assert harness.health.not_ready() == []
    publisher.hang = True
    await until(lambda: harness.health.not_ready() == ["amqp"], "readiness to drop")
    await harness.finish()
