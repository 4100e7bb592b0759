"""Which simulated sensors `iot-dev up` starts: parsing `--sensors` and naming the serials."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from iot_routing import InvalidSerialError, validate_serial

DEFAULT_SENSORS = "1,200,5k"

_RATE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>k?)(?:hz)?$", re.IGNORECASE)


class SensorSpecError(ValueError):
    """A `--sensors` value that cannot be used; the message says why."""


@dataclass(frozen=True)
class SensorSpec:
    """One simulated sensor: its serial number and sample rate."""

    serial: str
    rate_hz: float


def parse_sensors(text: str) -> list[SensorSpec]:
    """Parse a comma-separated list of `RATE` or `SERIAL=RATE` items.

    A rate is a number of Hz, optionally with a `k` suffix (kHz) and an `hz` unit: `1`, `200`,
    `5k`, `0.5`, `2.5khz`. Without a serial one is derived from the rate (`sim-5khz`).
    """
    specs: list[SensorSpec] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise SensorSpecError(f"empty item in {text!r}; expected e.g. {DEFAULT_SENSORS}")
        serial, _, rate_text = item.rpartition("=")
        rate = parse_rate(rate_text)
        try:
            spec = SensorSpec(validate_serial(serial) if serial else serial_for_rate(rate), rate)
        except InvalidSerialError as exc:
            raise SensorSpecError(str(exc)) from None
        specs.append(spec)
    serials = [spec.serial for spec in specs]
    duplicates = sorted({serial for serial in serials if serials.count(serial) > 1})
    if duplicates:
        raise SensorSpecError(
            f"two sensors would share the serial {', '.join(duplicates)}; name them: SERIAL=RATE"
        )
    return specs


def parse_rate(text: str) -> float:
    """Hz from `200`, `5k`, `0.5hz`, `2.5kHz`; must be finite and above zero."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise SensorSpecError(f"invalid sample rate {text!r}; expected e.g. 1, 200, 5k, 0.5")
    rate = float(match["number"]) * (1000.0 if match["unit"] else 1.0)
    if not (math.isfinite(rate) and rate > 0):
        raise SensorSpecError(f"a sample rate must be above 0 Hz, got {text!r}")
    return rate


def serial_for_rate(rate_hz: float) -> str:
    """`sim-1hz`, `sim-200hz`, `sim-5khz`, `sim-1500hz`, `sim-0p5hz` (a serial has no dots)."""
    if rate_hz >= 1000 and rate_hz % 1000 == 0:
        name = f"{rate_hz / 1000:.0f}khz"
    else:
        name = f"{rate_hz:.6f}".rstrip("0").rstrip(".").replace(".", "p") + "hz"
    return validate_serial(f"sim-{name}")
