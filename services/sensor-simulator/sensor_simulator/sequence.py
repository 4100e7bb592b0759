"""Per-sensor message sequence numbers that keep increasing across restarts, with no state file.

Consumers use (serial, sequence) as the idempotency key: a message whose key is already stored
is a redelivery and is skipped. That only works if a sensor never reuses a number, including
after a restart, and a simulator replica has nowhere durable to keep a counter. So each counter
starts at the wall clock in microseconds at boot and adds 1 per message. The next boot starts
above the last number of the previous one as long as the sensor sent fewer messages than
microseconds passed while it ran (fewer than a million messages per second; a 25 kHz sensor
sends about ten) and the wall clock did not step back by more than the time between the boots.
"""

from __future__ import annotations

NANOS_PER_MICRO = 1_000


class SequenceCounter:
    """Hands out strictly increasing numbers, starting at a boot-time value."""

    def __init__(self, first: int) -> None:
        if first < 0:
            raise ValueError("a sequence starts at >= 0 (it is a uint64 on the wire)")
        self._next = first

    @classmethod
    def at_boot(cls, wall_clock_ns: int) -> SequenceCounter:
        """A counter starting at the boot time in microseconds since the epoch."""
        return cls(wall_clock_ns // NANOS_PER_MICRO)

    def peek(self) -> int:
        """The number the next call to `next` returns."""
        return self._next

    def next(self) -> int:
        value = self._next
        self._next += 1
        return value
