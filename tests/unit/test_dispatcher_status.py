"""Delivery status rules: forward only, the first outcome in time wins, deadlines count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from join_dispatcher.status import (
    DELIVERED,
    EXPIRED,
    FAILED,
    JOINED,
    PENDING,
    RECEIVED,
    Answer,
    Delivery,
    first_outcome,
    settle,
)

DEADLINE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BEFORE = DEADLINE - timedelta(seconds=10)
AFTER = DEADLINE + timedelta(seconds=10)
NEW = Delivery(PENDING, None, None, None)


def at(seconds: float) -> datetime:
    return DEADLINE + timedelta(seconds=seconds)


def test_received_moves_pending_to_delivered_once() -> None:
    delivered = settle(NEW, [Answer(RECEIVED, None, at(-5))], DEADLINE)
    assert delivered == Delivery(DELIVERED, None, at(-5), None)
    assert settle(delivered, [Answer(RECEIVED, None, at(-4))], DEADLINE) == delivered


def test_an_outcome_is_final_and_proves_delivery() -> None:
    joined = settle(NEW, [Answer(JOINED, None, at(-3))], DEADLINE)
    assert joined == Delivery(JOINED, None, at(-3), at(-3))
    again = [Answer(FAILED, "later", at(-2)), Answer(JOINED, None, at(-1))]
    assert settle(joined, again, DEADLINE) == joined
    assert settle(joined, [Answer(RECEIVED, None, at(-9))], DEADLINE) == joined


def test_delivered_at_is_the_earliest_answer_and_set_once() -> None:
    answers = [Answer(FAILED, "no camera", at(-1)), Answer(RECEIVED, None, at(-6))]
    failed = settle(NEW, answers, DEADLINE)
    assert failed == Delivery(FAILED, "no camera", at(-6), at(-1))
    delivered = Delivery(DELIVERED, None, at(-8), None)
    assert settle(delivered, [Answer(JOINED, None, at(-2))], DEADLINE).delivered_at == at(-8)


def test_the_earliest_outcome_of_a_batch_wins() -> None:
    answers = [Answer(FAILED, "second", at(-1)), Answer(JOINED, None, at(-2))]
    assert settle(NEW, answers, DEADLINE).status == JOINED
    assert first_outcome(answers, DEADLINE) == answers[1]


def test_an_outcome_answered_in_time_replaces_expired() -> None:
    expired = Delivery(EXPIRED, "no outcome by the deadline", None, None)
    joined = settle(expired, [Answer(JOINED, None, at(0))], DEADLINE)
    assert joined == Delivery(JOINED, None, at(0), at(0)), "at the deadline is in time"


def test_an_outcome_answered_after_the_deadline_never_counts() -> None:
    late = [Answer(JOINED, None, at(1)), Answer(FAILED, "deadline passed", at(2))]
    expired = Delivery(EXPIRED, "no outcome by the deadline", None, None)
    # Delivery is proven, the status stays.
    assert settle(expired, late, DEADLINE) == Delivery(
        EXPIRED, "no outcome by the deadline", at(1), None
    )
    # Before the sweep ran, a late outcome only shows the JOIN arrived; the sweep expires it.
    assert settle(NEW, late, DEADLINE) == Delivery(DELIVERED, None, at(1), None)
    assert first_outcome(late, DEADLINE) is None


def test_received_after_expiry_keeps_expired() -> None:
    expired = Delivery(EXPIRED, "no outcome by the deadline", None, None)
    assert settle(expired, [Answer(RECEIVED, None, at(-1))], DEADLINE).status == EXPIRED


def test_no_answers_change_nothing() -> None:
    assert settle(NEW, [], DEADLINE) is NEW
