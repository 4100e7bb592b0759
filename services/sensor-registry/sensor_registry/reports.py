"""What a sensor reports about itself (asleep, sample frequency) and when, validated.

Command acknowledgements and heartbeats both carry an iot.v1.ReportedState and the sensor's own
timestamp; the registry keeps the newest report per sensor, ordered by that timestamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.command_pb2 import ReportedState
from iot_messaging import InvalidMessageError
from iot_messaging.validation import LATEST_US


@dataclass(frozen=True)
class Report:
    """A sensor's state at `at_us` (microseconds since the epoch, the sensor's clock)."""

    asleep: bool
    sample_frequency_hz: float
    at_us: int


def sensor_time_us(stamp: Timestamp, present: bool, name: str) -> int:
    """A sensor timestamp in microseconds; missing or absurd ones make the message invalid.

    `present` is the message's HasField for it: proto3 cannot tell a missing timestamp from
    the epoch otherwise.
    """
    if not present:
        raise InvalidMessageError(f"invalid time: {name} missing")
    us = stamp.ToMicroseconds()
    if not 0 < us < LATEST_US:
        raise InvalidMessageError(f"invalid time: {name} at {us} us")
    return us


def sample_frequency(hz: float, maximum_hz: float) -> float:
    """A reported or registered frequency: finite, > 0 and at most maximum_hz."""
    if not (math.isfinite(hz) and 0 < hz <= maximum_hz):
        raise InvalidMessageError(f"invalid sample frequency: {hz}")
    return hz


def decode_report(reported: ReportedState, present: bool, at_us: int, maximum_hz: float) -> Report:
    """The reported state of an acknowledgement or heartbeat sent at at_us."""
    if not present:
        raise InvalidMessageError("invalid reported state: missing")
    return Report(
        asleep=reported.asleep,
        sample_frequency_hz=sample_frequency(reported.sample_frequency_hz, maximum_hz),
        at_us=at_us,
    )


def newest_per_serial(reports: dict[str, Report], serial: str, report: Report) -> None:
    """Keep in `reports` only the newest report of each serial (ties: the first seen)."""
    kept = reports.get(serial)
    if kept is None or report.at_us > kept.at_us:
        reports[serial] = report
