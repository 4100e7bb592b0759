"""Turn a delivered message into a validated batch, or say exactly why it is invalid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError
from iot.v1.measurement_pb2 import MeasurementBatch
from iot_messaging import InvalidMessageError
from iot_routing import InvalidSerialError, validate_serial

# Sample times outside these bounds are certainly wrong clocks, and some are not storable.
EARLIEST_US = 0  # 1970-01-01
LATEST_US = 7_258_118_400_000_000  # 2200-01-01
MAX_SEQUENCE = 2**63 - 1  # stored as bigint


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
    try:
        message = MeasurementBatch.FromString(body)
    except DecodeError as exc:
        raise InvalidMessageError(f"undecodable: {exc}") from exc
    try:
        serial = validate_serial(message.serial_number)
    except InvalidSerialError as exc:
        raise InvalidMessageError(f"invalid serial: {exc}") from exc
    # The routing key names the publisher; a batch claiming another sensor's serial is refused.
    if routing_key.split(".")[1:2] != [serial]:
        raise InvalidMessageError(f"serial mismatch: {serial!r} sent with key {routing_key!r}")
    if not 0 < message.sequence <= MAX_SEQUENCE:
        raise InvalidMessageError(f"invalid sequence: {message.sequence}")
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
        sequence=message.sequence,
        first_time_us=first_us,
        sample_rate_hz=rate,
        values=np.array(message.samples, dtype=np.float64),
        sent_at_us=message.sent_at.ToMicroseconds() if message.HasField("sent_at") else 0,
    )
