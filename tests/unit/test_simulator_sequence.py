"""Sequence numbers: strictly increasing within a boot and across boots, with no stored state."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sensor_simulator.sequence import SequenceCounter

S = 1_000_000_000
BOOT = 1_763_900_000 * S + 123_456_789


def test_counter_starts_at_the_boot_time_in_microseconds_and_adds_one() -> None:
    counter = SequenceCounter.at_boot(BOOT)
    assert counter.peek() == BOOT // 1_000
    assert [counter.next() for _ in range(3)] == [BOOT // 1_000 + i for i in range(3)]


def test_numbers_keep_increasing_across_two_boots() -> None:
    # First boot: a 25 kHz sensor runs an hour (10 batches/s) and is restarted right away.
    first = SequenceCounter.at_boot(BOOT)
    first_numbers = [first.next() for _ in range(36_000)]
    second = SequenceCounter.at_boot(BOOT + 3_600 * S)
    second_numbers = [second.next() for _ in range(100)]
    numbers = first_numbers + second_numbers
    assert all(a < b for a, b in pairwise(numbers))


def test_a_crash_right_after_boot_still_leaves_room() -> None:
    # The boot messages (3 logs) go out, the process dies and comes back 1 ms later.
    first = SequenceCounter.at_boot(BOOT)
    last_of_first = [first.next() for _ in range(3)][-1]
    assert SequenceCounter.at_boot(BOOT + 1_000_000).next() > last_of_first


def test_numbers_fit_the_uint64_field_and_are_never_negative() -> None:
    assert SequenceCounter.at_boot(BOOT).next() < 2**64
    with pytest.raises(ValueError):
        SequenceCounter(-1)
