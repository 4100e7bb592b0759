"""When heartbeats are due, and what one says; no I/O here.

Heartbeats are due on a fixed grid (start, start + interval, ...) so they do not drift with
the time each one takes to send. A due time that passed while the sensor could not send (the
previous heartbeat still unconfirmed, the event loop busy) is skipped, never made up for: a
burst of stale heartbeats after an outage would tell the registry nothing new.
"""

from __future__ import annotations

import math

from iot.v1.heartbeat_pb2 import SensorHeartbeat

from sensor_simulator.commands import reported_state
from sensor_simulator.messages import timestamp
from sensor_simulator.sensor import Sensor


class HeartbeatSchedule:
    """Due times start + k * interval (seconds on a monotonic clock)."""

    def __init__(self, interval_seconds: float, start: float) -> None:
        if not (math.isfinite(interval_seconds) and interval_seconds > 0):
            raise ValueError(f"a heartbeat interval must be > 0, got {interval_seconds!r}")
        self._interval = interval_seconds
        self._start = start
        self._index = 0  # an index, not a running sum: no rounding drift over long runs

    @property
    def next_due(self) -> float:
        return self._start + self._index * self._interval

    def advance(self, now: float) -> int:
        """Move on from the current due time, to the first one after now.

        Call it once the heartbeat due at `next_due` was handled (sent or skipped). Returns how
        many further due times had already passed by `now` and are skipped with it.
        """
        passed = math.floor((now - self._start) / self._interval) + 1
        following = max(self._index + 1, passed)
        skipped = following - self._index - 1
        self._index = following
        return skipped


def heartbeat(
    sensor: Sensor, boot_id: str, interval_seconds: float, now_ns: int
) -> SensorHeartbeat:
    """The heartbeat the sensor sends at now_ns, promising the next within interval_seconds."""
    return SensorHeartbeat(
        serial_number=sensor.serial,
        boot_id=boot_id,
        sent_at=timestamp(now_ns),
        reported=reported_state(sensor),
        interval_seconds=interval_seconds,
    )
