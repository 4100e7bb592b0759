"""A sensor's state and the operations commands trigger: sleep, awake, change sample frequency.

The rules, which the Go original got wrong (it panicked below 1 Hz, accepted 0 Hz and kept
buffering while asleep):
- a sample frequency must be finite and 0 < hz <= the configured maximum; anything else raises
  InvalidSampleFrequencyError (a ValueError) for the caller to report, never a crash;
- while asleep nothing is sampled, so nothing is generated, buffered or published; samples
  taken before falling asleep are still handed out;
- a frequency change while asleep is remembered and applied on wake;
- awake resumes with a new segment starting at the wake time, so timestamps stay true.
Every operation takes the current time explicitly so tests can drive time.
"""

from __future__ import annotations

import math

from iot.v1 import sensor_pb2
from iot_routing import validate_serial

from sensor_simulator.clock import SampleClock

MAX_SAMPLE_FREQUENCY_HZ = 25_000.0
# What the simulator models (the Go original's accelerometer).
SIMULATED_KIND = sensor_pb2.SENSOR_KIND_ACCELEROMETER


class InvalidSampleFrequencyError(ValueError):
    """A sample frequency the sensor cannot use."""


def validate_sample_frequency(hz: float, maximum: float = MAX_SAMPLE_FREQUENCY_HZ) -> float:
    """Return hz as a float if 0 < hz <= maximum, else raise InvalidSampleFrequencyError."""
    if isinstance(hz, bool) or not isinstance(hz, int | float):
        raise InvalidSampleFrequencyError(f"sample frequency must be a number, got {hz!r}")
    if not (math.isfinite(hz) and 0 < hz <= maximum):
        raise InvalidSampleFrequencyError(
            f"sample frequency must be > 0 and <= {maximum:g} Hz, got {hz!r}"
        )
    return float(hz)


class Sensor:
    """One simulated sensor: identity, sample frequency, sleep state and its sample clock."""

    def __init__(
        self,
        serial: str,
        sample_frequency_hz: float,
        now_ns: int,
        *,
        max_sample_frequency_hz: float = MAX_SAMPLE_FREQUENCY_HZ,
        kind: sensor_pb2.SensorKind = SIMULATED_KIND,
    ) -> None:
        self._serial = validate_serial(serial)
        self._kind = kind
        self._max_hz = max_sample_frequency_hz
        self._frequency_hz = validate_sample_frequency(sample_frequency_hz, self._max_hz)
        self._asleep = False
        self._clock = SampleClock(now_ns, self._frequency_hz)

    @property
    def serial(self) -> str:
        return self._serial

    @property
    def kind(self) -> sensor_pb2.SensorKind:
        return self._kind

    @property
    def sample_frequency_hz(self) -> float:
        """The configured frequency; while asleep, the one that applies on wake."""
        return self._frequency_hz

    @property
    def max_sample_frequency_hz(self) -> float:
        return self._max_hz

    @property
    def asleep(self) -> bool:
        return self._asleep

    @property
    def clock(self) -> SampleClock:
        return self._clock

    def sleep(self, now_ns: int) -> bool:
        """Stop sampling after now_ns; False if already asleep (sleeping twice is harmless)."""
        if self._asleep:
            return False
        self._clock.stop(now_ns)
        self._asleep = True
        return True

    def awake(self, now_ns: int) -> bool:
        """Resume sampling at now_ns at the configured frequency; False if already awake."""
        if not self._asleep:
            return False
        self._clock.start(now_ns, self._frequency_hz)
        self._asleep = False
        return True

    def change_sample_frequency(self, hz: float, now_ns: int) -> bool:
        """Use hz from the next sample boundary (or from the wake, if asleep).

        Raises InvalidSampleFrequencyError and changes nothing if hz is invalid; returns False
        if hz is already the configured frequency.
        """
        new_hz = validate_sample_frequency(hz, self._max_hz)
        if new_hz == self._frequency_hz:
            return False
        if not self._asleep:
            self._clock.change_rate(new_hz, now_ns)
        self._frequency_hz = new_hz
        return True
