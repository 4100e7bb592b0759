"""The simulated accelerometer's signal: a sum of sines plus amplitude-modulated noise.

Same model as the Go original: sum of A·sin(2πft + φ) over the components below, plus
U(0,1)·N(0,1) noise. Everything is vectorised over the sample times; the noise comes from a
caller-supplied numpy Generator so tests can seed it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class Component:
    """One sine of the model; frequency as a Fraction so the common period is exact."""

    amplitude: float
    frequency_hz: Fraction
    phase: float


ACCELEROMETER: tuple[Component, ...] = (
    Component(1.0, Fraction(5), 0.0),
    Component(0.6, Fraction(5, 2), 0.0),
    Component(0.5, Fraction(10), 0.0),
    Component(0.3, Fraction(60), 0.3),
    Component(0.16, Fraction(120), 0.3),
    Component(0.86, Fraction(190), 0.0),
    Component(0.36, Fraction(550), 0.0),
)


def common_period_ns(components: tuple[Component, ...]) -> int:
    """A whole number of nanoseconds after which every component repeats exactly.

    Each component's period is 1e9/f ns, a fraction p/q; the least common multiple of such
    fractions is lcm(p)/gcd(q), and lcm(p) alone is a (possibly longer) common period that is
    an integer, which is what integer reduction needs.
    """
    periods = [Fraction(NANOS_PER_SECOND) / c.frequency_hz for c in components]
    return math.lcm(*(p.numerator for p in periods))


# 400 ms for the accelerometer: every frequency is a multiple of 2.5 Hz.
PERIOD_NS = common_period_ns(ACCELEROMETER)

_AMPLITUDES = np.array([c.amplitude for c in ACCELEROMETER], dtype=np.float64)
_ANGULAR = np.array([2 * math.pi * float(c.frequency_hz) for c in ACCELEROMETER])
_PHASES = np.array([c.phase for c in ACCELEROMETER], dtype=np.float64)


def clean_signal(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """The noiseless sum of sines at times t (seconds)."""
    # One (components x samples) matrix, then a weighted sum: no Python loop per sample.
    angles = np.outer(_ANGULAR, t) + _PHASES[:, np.newaxis]
    result: NDArray[np.float64] = _AMPLITUDES @ np.sin(angles)
    return result


def noise(rng: np.random.Generator, count: int) -> NDArray[np.float64]:
    """U(0,1)·N(0,1): Gaussian noise whose strength itself varies from sample to sample."""
    result: NDArray[np.float64] = rng.uniform(0.0, 1.0, count) * rng.standard_normal(count)
    return result


def accelerometer(t: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Accelerometer samples at times t (seconds)."""
    return clean_signal(t) + noise(rng, t.shape[0])


def model_time_seconds(first_time_ns: int, offsets_ns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sample times as seconds into the model's period, for feeding `accelerometer`.

    Epoch seconds (~1.7e9) as float64 keep only ~0.2 µs of resolution, which would smear the
    550 Hz component; reducing the first sample time modulo the common period in integer
    nanoseconds first keeps full precision and changes no value, since every sine repeats
    exactly after PERIOD_NS.
    """
    return (float(first_time_ns % PERIOD_NS) + offsets_ns) / NANOS_PER_SECOND
