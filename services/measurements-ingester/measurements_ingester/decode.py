"""Turn a delivered message into a validated batch, or say exactly why it is invalid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_messaging import InvalidMessageError
from iot_messaging.validation import LATEST_US, parse, sender_serial, sequence

EARLIEST_US = 0  # 1970-01-01: earlier sample times are broken clocks


@dataclass(frozen=True)
class Batch:
    """A validated measurement batch."""

    serial: str
    sequence: int
    first_time_us: int
    sample_rate_hz: float
    values: npt.NDArray[np.float64]
    sent_at_us: int  # 0 when the sender did not say


def decode_batch(body: bytes, routing_key: str, max_rate_hz: float, max_samples: int) -> Batch:
    """Parse and validate; raise InvalidMessageError with the reason otherwise."""
    message = parse(MeasurementBatch, body)
    serial = sender_serial(message.serial_number, routing_key)
    rate = message.sample_rate_hz
    if not (math.isfinite(rate) and 0 < rate <= max_rate_hz):
        raise InvalidMessageError(f"invalid sample rate: {rate}")
    if not 0 < len(message.samples) <= max_samples:
        raise InvalidMessageError(f"invalid sample count: {len(message.samples)}")
    if not message.HasField("first_sample_time"):
        raise InvalidMessageError("invalid time: first_sample_time missing")
    first_us = message.first_sample_time.ToMicroseconds()
    last_us = first_us + (len(message.samples) - 1) * 1e6 / rate
    if not EARLIEST_US <= first_us <= last_us < LATEST_US:
        raise InvalidMessageError(f"invalid time: first sample at {first_us} us")
    return Batch(
        serial=serial,
        sequence=sequence(message.sequence),
        first_time_us=first_us,
        sample_rate_hz=rate,
        values=np.array(message.samples, dtype=np.float64),
        sent_at_us=message.sent_at.ToMicroseconds() if message.HasField("sent_at") else 0,
    )
