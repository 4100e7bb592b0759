"""The running simulator: boot, register, then stream batches until told to stop.

Top-down: `run` boots (log lines, then the registration), then `_stream` loops: plan the next
flush from the sample clock, wait for it (or for a change or stop), flush every due sample in
chunks. Every message goes out with publish-until-confirmed, so a broker outage pauses the
loop instead of losing messages; the sample clock keeps the time meanwhile and the backlog cap
bounds what is sent once the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any, Protocol

import numpy as np
from google.protobuf.message import Message
from iot_routing import logs_key, measurements_key, registry_key
from iot_service import Health

from sensor_simulator import messages
from sensor_simulator.batching import BatchPolicy
from sensor_simulator.clock import NANOS_PER_SECOND, WallClock
from sensor_simulator.config import SimulatorSettings
from sensor_simulator.metrics import SimulatorMetrics
from sensor_simulator.sensor import SIMULATED_KIND, Sensor
from sensor_simulator.sequence import SequenceCounter
from sensor_simulator.signal import accelerometer, model_time_seconds

# After SIGTERM an in-flight publish gets this long to be confirmed before it is abandoned,
# which keeps shutdown well under the 5 s a supervisor waits before SIGKILL.
SHUTDOWN_GRACE_SECONDS = 2.0
# A publish blocked this long means the broker is unreachable: report not ready until it
# succeeds again.
NOT_READY_AFTER_SECONDS = 5.0
# Re-plan at least this often, even at very low rates (a sample every hour at 0.0003 Hz).
MAX_WAIT_SECONDS = 60.0
# Errors the Publisher can let escape its own retry loop (channel or declaration failures).


class MessagePublisher(Protocol):
    """What the simulator needs from iot_messaging.Publisher."""

    async def publish_until_confirmed(
        self, routing_key: str, message: Message, stop: asyncio.Event | None = None
    ) -> bool: ...

    async def close(self) -> None: ...


class Simulator:
    """One simulated sensor process."""

    def __init__(
        self,
        settings: SimulatorSettings,
        publisher: MessagePublisher,
        log: Any,
        health: Health,
        metrics: SimulatorMetrics,
        *,
        wall_clock: WallClock | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self._settings = settings
        self._serial = settings.sensor_serial
        self._publisher = publisher
        self._log = log
        self._health = health
        self._metrics = metrics
        self._clock = wall_clock or WallClock()
        self._rng = rng or np.random.default_rng()
        self._policy = BatchPolicy.from_seconds(
            settings.batch_interval_seconds,
            settings.max_batch_samples,
            settings.max_backlog_seconds,
        )
        booted_at = self._clock.now_ns()
        self._booted_at_ns = booted_at
        # Separate counters per message kind; each is the idempotency key of its consumer.
        self._log_sequence = SequenceCounter.at_boot(booted_at)
        self._batch_sequence = SequenceCounter.at_boot(booted_at)
        self._registered = False
        self._boot_id = uuid.uuid4().hex
        self._changed = asyncio.Event()
        self._sensor: Sensor | None = None
        # Set once the sensor exists (after its registration): commands may be taken from then.
        self.sampling = asyncio.Event()

    @property
    def wall_clock(self) -> WallClock:
        return self._clock

    @property
    def boot_id(self) -> str:
        """Random id of this boot, announced in the registration and every heartbeat."""
        return self._boot_id

    @property
    def sensor(self) -> Sensor | None:
        """The sensor once sampling has started (after registration)."""
        return self._sensor

    def wake(self) -> None:
        """Re-plan the next flush now; call after changing the sensor's state."""
        if self._sensor is not None:
            self._metrics.sample_frequency_hz.set(self._sensor.sample_frequency_hz)
        self._changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Boot, then stream until stop is set; return once the publisher is closed."""
        watcher = asyncio.create_task(self._wake_on(stop), name="stop-watcher")
        try:
            if await self._boot(stop):
                await self._stream(stop)
        finally:
            watcher.cancel()
            self._health.set("amqp", False)
            self._log.info("stopping: closing the publisher")
            try:
                await asyncio.wait_for(self._publisher.close(), SHUTDOWN_GRACE_SECONDS)
            except TimeoutError as exc:  # close() itself absorbs broker errors
                self._log.warning("publisher did not close cleanly", error=repr(exc))

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._changed.set()

    async def _boot(self, stop: asyncio.Event) -> bool:
        """Publish the boot log lines, then the registration; False if stopped first."""
        for line in messages.boot_log_lines(self._settings.firmware_version):
            self._log.info("boot step", step=line)
            message = messages.log_line(
                self._serial, self._log_sequence.next(), self._clock.now_ns(), line
            )
            if not await self._publish(logs_key(self._serial), message, stop):
                return False
        boot_id = self._boot_id
        registration = messages.registration(
            self._serial,
            SIMULATED_KIND,
            self._settings.sample_frequency_hz,
            firmware_version=self._settings.firmware_version,
            boot_id=boot_id,
            booted_at_ns=self._booted_at_ns,
            sent_at_ns=self._clock.now_ns(),
        )
        self._log.info("boot step", step="registering", boot_id=boot_id)
        if not await self._publish(registry_key(self._serial), registration, stop):
            return False
        self._registered = True
        self._health.set("amqp", True)
        self._log.info("registered", boot_id=boot_id)
        return True

    async def _stream(self, stop: asyncio.Event) -> None:
        # Sampling starts once the registration is confirmed: consumers know the sensor
        # before its first batch, and a long outage at boot builds no backlog.
        now = self._clock.now_ns()
        sensor = Sensor(
            self._serial,
            self._settings.sample_frequency_hz,
            now,
            max_sample_frequency_hz=self._settings.max_sample_frequency_hz,
        )
        self._sensor = sensor
        self.sampling.set()
        self._metrics.sample_frequency_hz.set(sensor.sample_frequency_hz)
        self._log.info(
            "sampling",
            sample_frequency_hz=sensor.sample_frequency_hz,
            batch_interval_seconds=self._settings.batch_interval_seconds,
            max_batch_samples=self._settings.max_batch_samples,
        )
        last_flush = now
        while not stop.is_set():
            # Clear before planning: a change that arrives after this point wakes the wait.
            self._changed.clear()
            flush_at = self._policy.next_flush_ns(sensor.clock, last_flush)
            await self._wait_until(flush_at)
            if flush_at is None:
                # Nothing was due (asleep): after waking, the first interval starts then.
                last_flush = self._clock.now_ns()
                continue
            if stop.is_set() or self._clock.now_ns() < flush_at:
                continue  # stopping, or woken by a change: plan again
            # Flush what was due at the planned time, not at the (slightly later) wake-up:
            # size-triggered batches stay exactly max_batch_samples, and the ticks stay on
            # their grid instead of slipping by the timer's latency every interval.
            last_flush = flush_at
            if not await self._flush(sensor, flush_at, stop):
                return

    async def _wait_until(self, deadline_ns: int | None) -> None:
        timeout = MAX_WAIT_SECONDS
        if deadline_ns is not None:
            remaining = (deadline_ns - self._clock.now_ns()) / NANOS_PER_SECOND
            timeout = min(max(remaining, 0.0), MAX_WAIT_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _flush(self, sensor: Sensor, flush_ns: int, stop: asyncio.Event) -> bool:
        """Send every sample due at flush_ns; False if stopped before finishing."""
        while not stop.is_set():
            take = self._policy.take(sensor.clock, self._clock.now_ns(), flush_ns)
            if take.dropped:
                self._metrics.samples_dropped.inc(take.dropped)
                self._log.warning(
                    "publishing fell behind: oldest samples dropped",
                    dropped=take.dropped,
                    max_backlog_seconds=self._settings.max_backlog_seconds,
                )
            run = take.run
            if run is None:
                return True
            times = model_time_seconds(run.first_time_ns, run.offsets_ns())
            samples = accelerometer(times, self._rng)
            self._metrics.samples_generated.inc(run.count)
            batch = messages.measurement_batch(
                self._serial, self._batch_sequence.next(), run, samples, self._clock.now_ns()
            )
            started = time.monotonic()
            if not await self._publish(measurements_key(self._serial), batch, stop):
                return False
            self._metrics.publish_seconds.observe(time.monotonic() - started)
            self._metrics.batches_published.inc()
            self._log.debug(
                "batch published",
                sequence=batch.sequence,
                samples=run.count,
                first_sample_time_ns=run.first_time_ns,
            )
        return False

    async def _publish(self, routing_key: str, message: Message, stop: asyncio.Event) -> bool:
        """Publish until confirmed; False if stop came first (after a short grace period)."""
        attempt = asyncio.create_task(
            self._publisher.publish_until_confirmed(routing_key, message, stop)
        )
        stopped = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {attempt, stopped},
                timeout=NOT_READY_AFTER_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._health.set("amqp", False)
                self._log.warning("publishing blocked; waiting for the broker", key=routing_key)
                await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done():
                # Stopping: the message in flight may still be confirmed; give it a moment.
                await asyncio.wait({attempt}, timeout=SHUTDOWN_GRACE_SECONDS)
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await attempt
                self._log.warning("stopped with a publish unconfirmed", key=routing_key)
                return False
            confirmed = attempt.result()
        finally:
            stopped.cancel()
        if confirmed and self._registered:
            self._health.set("amqp", True)
        return confirmed
