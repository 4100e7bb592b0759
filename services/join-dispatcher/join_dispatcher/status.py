"""How a device's answers move its delivery's status: forward only, the first outcome wins.

    pending --any answer--> delivered --JOINED / FAILED--> joined | failed      (final)
    pending | delivered --deadline passes (sweep)--> expired
    expired --JOINED / FAILED answered at or before the deadline--> joined | failed

- Any answer proves the JOIN arrived: pending becomes delivered, and delivered_at is set once,
  to the earliest answer's time.
- An outcome (JOINED, FAILED) counts only if the device answered at or before the deadline (by
  its own clock, answered_at): an answer sent in time but delayed on the way (the device lost
  its connection, the dispatcher was down) still replaces the sweep's `expired`; one sent later
  is ignored, whatever it says, because the device was too late.
- The first outcome wins: once answered_at is set, a repeated answer (to a JOIN delivered twice)
  or a redelivered acknowledgement changes nothing. Within one batch the earliest counting
  outcome is the first.

The store locks the rows, applies `settle` and writes back only the rows it changed, so these
rules live here once, as plain code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

PENDING = "pending"
DELIVERED = "delivered"
JOINED = "joined"
FAILED = "failed"
EXPIRED = "expired"
# What a device's acknowledgement says: RECEIVED (it has the JOIN) or an outcome.
RECEIVED = "received"
OUTCOMES = frozenset({JOINED, FAILED})
# The statuses an outcome may still replace.
_OPEN_TO_OUTCOME = frozenset({PENDING, DELIVERED, EXPIRED})


@dataclass(frozen=True)
class Answer:
    """One acknowledgement: RECEIVED, JOINED or FAILED, sent by the device at `at`."""

    status: str
    reason: str | None
    at: datetime

    @property
    def is_outcome(self) -> bool:
        return self.status in OUTCOMES


@dataclass(frozen=True)
class Delivery:
    """The columns of a join_deliveries row that answers change."""

    status: str
    reason: str | None
    delivered_at: datetime | None
    answered_at: datetime | None


def first_outcome(answers: Sequence[Answer], deadline: datetime) -> Answer | None:
    """The earliest outcome answered at or before the deadline, if any."""
    counting = [a for a in answers if a.is_outcome and a.at <= deadline]
    return min(counting, key=lambda a: a.at) if counting else None


def settle(delivery: Delivery, answers: Sequence[Answer], deadline: datetime) -> Delivery:
    """The delivery after `answers` (one device's, for one request) have been taken in."""
    if not answers:
        return delivery
    delivered_at = delivery.delivered_at or min(a.at for a in answers)
    outcome = first_outcome(answers, deadline)
    if outcome is not None and delivery.answered_at is None and delivery.status in _OPEN_TO_OUTCOME:
        return Delivery(outcome.status, outcome.reason, delivered_at, outcome.at)
    status = DELIVERED if delivery.status == PENDING else delivery.status
    return replace(delivery, status=status, delivered_at=delivered_at)
