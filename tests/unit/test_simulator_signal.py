"""The simulated accelerometer's signal model: its spectrum, its noise and its time base."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_simulator.signal import (
    ACCELEROMETER,
    NANOS_PER_SECOND,
    PERIOD_NS,
    accelerometer,
    clean_signal,
    model_time_seconds,
    noise,
)

SAMPLING_HZ = 2_000
SECONDS = 4  # 0.25 Hz resolution: every model frequency (multiples of 2.5 Hz) falls on a bin


def _amplitude_spectrum(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    spectrum = np.abs(np.fft.rfft(samples)) * 2 / samples.shape[0]
    frequencies = np.fft.rfftfreq(samples.shape[0], d=1 / SAMPLING_HZ)
    return frequencies, spectrum


def test_spectrum_peaks_at_the_model_frequencies_with_their_amplitudes() -> None:
    t = np.arange(SAMPLING_HZ * SECONDS) / SAMPLING_HZ
    frequencies, spectrum = _amplitude_spectrum(accelerometer(t, np.random.default_rng(7)))

    strongest = np.argsort(spectrum)[-len(ACCELEROMETER) :]
    assert sorted(frequencies[strongest]) == sorted(float(c.frequency_hz) for c in ACCELEROMETER)
    for component in ACCELEROMETER:
        peak = spectrum[np.argmin(np.abs(frequencies - float(component.frequency_hz)))]
        assert peak == pytest.approx(component.amplitude, abs=0.05)
    # Away from the peaks only noise is left, far below the weakest sine (0.16).
    off_peak = np.delete(spectrum[1:], strongest - 1)
    assert off_peak.max() < 0.08


def test_noise_is_uniform_times_normal_and_reproducible_with_a_seed() -> None:
    values = noise(np.random.default_rng(1), 200_000)
    assert values.mean() == pytest.approx(0.0, abs=0.01)
    # Var(U·N) = E[U²]·E[N²] = 1/3
    assert values.var() == pytest.approx(1 / 3, rel=0.02)
    assert np.array_equal(values, noise(np.random.default_rng(1), 200_000))
    assert not np.array_equal(values, noise(np.random.default_rng(2), 200_000))


def test_accelerometer_is_vectorised_over_any_length() -> None:
    rng = np.random.default_rng(3)
    assert accelerometer(np.zeros(0), rng).shape == (0,)
    samples = accelerometer(np.linspace(0, 1, 25_000), rng)
    assert samples.shape == (25_000,)
    assert samples.dtype == np.float64


def test_common_period_is_400_ms_and_every_sine_repeats_after_it() -> None:
    assert PERIOD_NS == 400_000_000
    t = np.linspace(0, 1, 1_001)
    period_s = PERIOD_NS / NANOS_PER_SECOND
    assert np.allclose(clean_signal(t), clean_signal(t + period_s), atol=1e-9)


def test_model_time_keeps_full_precision_at_epoch_times() -> None:
    """Reducing epoch times by the period changes no value and loses no resolution."""
    first_ns = 1_763_900_000_123_456_789
    offsets = np.arange(0, 4_000_000, 40_000, dtype=np.float64)  # 100 samples at 25 kHz
    reduced = clean_signal(model_time_seconds(first_ns, offsets))
    # Same instants a whole number of periods later give the same values.
    later = clean_signal(model_time_seconds(first_ns + 1_000_000 * PERIOD_NS, offsets))
    assert np.allclose(reduced, later, atol=1e-12)
    # And the same as computing from a small time known exactly.
    small = clean_signal((first_ns % PERIOD_NS + offsets) / NANOS_PER_SECOND)
    assert np.allclose(reduced, small, atol=1e-12)


def test_consecutive_batches_continue_the_same_waveform() -> None:
    first_ns = 1_763_900_000_000_000_000
    step = 1_000_000  # 1 kHz
    whole = clean_signal(model_time_seconds(first_ns, np.arange(0, 200 * step, step, dtype=float)))
    second_half = clean_signal(
        model_time_seconds(first_ns + 100 * step, np.arange(0, 100 * step, step, dtype=float))
    )
    assert np.allclose(whole[100:], second_half, atol=1e-12)
