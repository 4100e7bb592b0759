"""Sensor serial numbers: what is valid, and how a replica derives a stable one from its host."""

from __future__ import annotations

import hashlib
import re

# Letters, digits and '-', at least one letter. Dots and wildcards are excluded because the
# serial is a word of routing keys and queue names; 'all' is reserved for fan-in queues.
_SERIAL = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9-]{1,64}$")
_RESERVED = frozenset({"all"})
MAX_SERIAL_LENGTH = 64


class InvalidSerialError(ValueError):
    """A serial number that cannot be used as a routing-key word."""


def validate_serial(serial: str) -> str:
    """Return serial unchanged if valid, else raise InvalidSerialError with the reason."""
    if not _SERIAL.fullmatch(serial):
        raise InvalidSerialError(
            f"invalid serial number {serial!r}: use 1-{MAX_SERIAL_LENGTH} letters, digits or '-',"
            " with at least one letter"
        )
    if serial.lower() in _RESERVED:
        raise InvalidSerialError(f"serial number {serial!r} is reserved")
    return serial


def serial_from_hostname(hostname: str) -> str:
    """Derive a valid, stable serial from a host name.

    A StatefulSet pod ``sensor-simulator-3`` keeps its name (and so its serial) across restarts;
    a compose replica's host name is its container id. Characters that cannot appear in a
    routing key become '-'; a name that would still be invalid is replaced by a short digest
    of itself, which is equally stable.
    """
    candidate = re.sub(r"[^A-Za-z0-9-]", "-", hostname.split(".", maxsplit=1)[0]).strip("-")
    try:
        return validate_serial(candidate[:MAX_SERIAL_LENGTH])
    except InvalidSerialError:
        return "sn-" + hashlib.sha256(hostname.encode()).hexdigest()[:12]
