"""Send a heartbeat every interval from registration on, awake or asleep.

Heartbeats share the confirmed publisher with everything else but never wait for it: at most
one heartbeat is in flight, and while it is unconfirmed (the broker is down) the next ones are
skipped with a log line. Nothing queues up, and the sampling loop, which has its own publish
in flight, is neither blocked nor delayed by heartbeats. Each publish is a single attempt; the
next due heartbeat is the retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from google.protobuf.message import Message
from iot_messaging import BROKER_ERRORS, PublishError
from iot_routing import heartbeat_key

from sensor_simulator.app import Simulator
from sensor_simulator.heartbeat import HeartbeatSchedule, heartbeat
from sensor_simulator.metrics import SimulatorMetrics


class HeartbeatPublisher(Protocol):
    """What heartbeats need from iot_messaging.Publisher: one confirmed attempt."""

    async def publish(
        self,
        routing_key: str,
        message: Message,
        *,
        expiration_ms: int | None = None,
        timeout: float = 10.0,
        stop: asyncio.Event | None = None,
    ) -> None: ...


class HeartbeatSender:
    """Publishes the simulator's heartbeats on heartbeat_key(serial)."""

    def __init__(
        self,
        simulator: Simulator,
        publisher: HeartbeatPublisher,
        log: Any,
        metrics: SimulatorMetrics,
        interval_seconds: float,
    ) -> None:
        self._simulator = simulator
        self._publisher = publisher
        self._log = log
        self._metrics = metrics
        self._interval = interval_seconds
        self._in_flight: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the registration, then send heartbeats until stop is set."""
        sampling = asyncio.ensure_future(self._simulator.sampling.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sampling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sampling.cancel()
            stopped.cancel()
        if stop.is_set():
            return
        loop = asyncio.get_running_loop()
        schedule = HeartbeatSchedule(self._interval, loop.time())
        self._log.info("sending heartbeats", heartbeat_seconds=self._interval)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, schedule.next_due - loop.time()))
                if stop.is_set():
                    return
                missed = schedule.advance(loop.time())
                if missed:
                    self._skip(missed, "the event loop was busy past the due time")
                self._beat(stop)
        finally:
            # A heartbeat unconfirmed at shutdown is worthless: the sensor is going away.
            if self._in_flight is not None and not self._in_flight.done():
                self._in_flight.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._in_flight

    def _beat(self, stop: asyncio.Event) -> None:
        if self._in_flight is not None and not self._in_flight.done():
            self._skip(1, "the previous heartbeat is not confirmed yet")
            return
        self._in_flight = asyncio.create_task(self._send(stop), name="heartbeat")

    async def _send(self, stop: asyncio.Event) -> None:
        sensor = self._simulator.sensor
        assert sensor is not None  # run() waits for sampling to start
        message = heartbeat(
            sensor, self._simulator.boot_id, self._interval, self._simulator.wall_clock.now_ns()
        )
        try:
            await self._publisher.publish(heartbeat_key(sensor.serial), message, stop=stop)
        except (PublishError, *BROKER_ERRORS) as exc:
            self._skip(1, f"publishing failed: {exc}")
            return
        self._metrics.heartbeats_published.inc()
        self._log.debug("heartbeat published", asleep=message.reported.asleep)

    def _skip(self, count: int, why: str) -> None:
        self._metrics.heartbeats_skipped.inc(count)
        self._log.warning("heartbeat skipped", count=count, reason=why)
