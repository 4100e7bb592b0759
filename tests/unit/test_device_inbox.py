"""What the device does with each message, without a broker: answers, deduplication, deadline,
invalid messages, and what happens when an answer is not confirmed."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog
from google.protobuf.message import Message
from iot.v1.join_pb2 import DevicePong, JoinAck, JoinStatus, SessionJoin
from iot_device.inbox import Inbox, Settlement
from iot_device.joining import FailingJoiner, Joiner, JoinResult
from iot_device.stats import DeviceStats
from iot_routing import join_acks_key, join_key, new_device_id, ping_key, pongs_key

from tests.device_messages import device_ping, session_join
from tests.messages import mutated

DEVICE = new_device_id()
JOIN_KEY = join_key("proj-1", "group-1", DEVICE)
PING_KEY = ping_key("proj-1", "group-1")
RECEIVED = JoinStatus.JOIN_STATUS_RECEIVED
JOINED = JoinStatus.JOIN_STATUS_JOINED
FAILED = JoinStatus.JOIN_STATUS_FAILED


class Answers:
    """Records what the device published; can refuse the n-th answer like an unconfirmed one."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.sent: list[tuple[str, Message]] = []
        self._fail_at = fail_at

    async def __call__(self, routing_key: str, message: Message) -> None:
        if self._fail_at is not None and len(self.sent) + 1 == self._fail_at:
            self._fail_at = None
            raise ConnectionError("not confirmed")
        self.sent.append((routing_key, message))

    def acks(self) -> list[JoinAck]:
        return [m for k, m in self.sent if k == join_acks_key(DEVICE) and isinstance(m, JoinAck)]


class ScriptedJoiner:
    """Counts calls; joins, fails, raises or hangs as told."""

    def __init__(self, result: JoinResult | Exception | None = None, delay: float = 0) -> None:
        self.calls: list[str] = []
        self._result = result or JoinResult.success()
        self._delay = delay

    async def join(self, join: SessionJoin) -> JoinResult:
        self.calls.append(join.request_id)
        await asyncio.sleep(self._delay)
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


def _inbox(joiner: Joiner, join_timeout: float = 30.0) -> tuple[Inbox, DeviceStats]:
    stats = DeviceStats()
    inbox = Inbox(DEVICE, joiner, structlog.get_logger(), stats, join_timeout=join_timeout)
    return inbox, stats


def _statuses(answers: Answers) -> list[tuple[JoinStatus, str]]:
    return [(a.status, a.reason) for a in answers.acks()]


async def test_a_join_is_answered_received_then_joined() -> None:
    joiner = ScriptedJoiner()
    inbox, stats = _inbox(joiner)
    answers = Answers()
    join = session_join(DEVICE)
    assert await inbox.handle(JOIN_KEY, join.SerializeToString(), answers) is Settlement.ACK
    assert _statuses(answers) == [(RECEIVED, ""), (JOINED, "")]
    first, second = answers.acks()
    assert (first.request_id, first.device_id) == (join.request_id, DEVICE)
    assert first.acked_at.ToNanoseconds() <= second.acked_at.ToNanoseconds()
    assert joiner.calls == [join.request_id]
    assert inbox.joined(join.request_id)
    assert (stats.joins_received, stats.joined) == (1, 1)


async def test_a_repeated_join_is_answered_alike_without_joining_again() -> None:
    joiner = ScriptedJoiner()
    inbox, stats = _inbox(joiner)
    answers = Answers()
    body = session_join(DEVICE).SerializeToString()
    for _ in range(3):
        assert await inbox.handle(JOIN_KEY, body, answers) is Settlement.ACK
    assert _statuses(answers) == [(RECEIVED, ""), (JOINED, "")] * 3
    assert len(joiner.calls) == 1
    assert stats.joins_repeated == 2


async def test_a_failed_join_is_tried_again_when_the_join_comes_again() -> None:
    joiner = ScriptedJoiner(JoinResult.failure("camera busy"))
    inbox, _ = _inbox(joiner)
    answers = Answers()
    body = session_join(DEVICE).SerializeToString()
    await inbox.handle(JOIN_KEY, body, answers)
    await inbox.handle(JOIN_KEY, body, answers)
    assert _statuses(answers) == [(RECEIVED, ""), (FAILED, "camera busy")] * 2
    assert len(joiner.calls) == 2


async def test_a_join_past_its_deadline_fails_without_joining() -> None:
    joiner = ScriptedJoiner()
    inbox, stats = _inbox(joiner)
    answers = Answers()
    await inbox.handle(
        JOIN_KEY, session_join(DEVICE, deadline_in=-0.001).SerializeToString(), answers
    )
    assert _statuses(answers) == [(RECEIVED, ""), (FAILED, "deadline passed")]
    assert joiner.calls == []
    assert stats.join_failed == 1


async def test_a_request_already_joined_is_answered_joined_even_past_its_deadline() -> None:
    """The device did join in time; only the repeated JOIN comes late."""
    late_clock = [time.time_ns()]
    stats = DeviceStats()
    joiner = ScriptedJoiner()
    inbox = Inbox(DEVICE, joiner, structlog.get_logger(), stats, clock=lambda: late_clock[0])
    join = session_join(DEVICE, deadline_in=10)
    answers = Answers()
    await inbox.handle(JOIN_KEY, join.SerializeToString(), answers)
    late_clock[0] += 60 * 10**9
    await inbox.handle(JOIN_KEY, join.SerializeToString(), answers)
    assert _statuses(answers)[-1] == (JOINED, "")
    assert len(joiner.calls) == 1


async def test_a_joiner_that_raises_or_hangs_is_reported_failed() -> None:
    raising, _ = _inbox(ScriptedJoiner(RuntimeError("boom")))
    answers = Answers()
    await raising.handle(JOIN_KEY, session_join(DEVICE).SerializeToString(), answers)
    assert _statuses(answers)[-1] == (FAILED, "join failed: RuntimeError")

    hanging, _ = _inbox(ScriptedJoiner(delay=10), join_timeout=0.05)
    answers = Answers()
    await hanging.handle(JOIN_KEY, session_join(DEVICE).SerializeToString(), answers)
    assert _statuses(answers)[-1] == (FAILED, "join timed out after 0.05 s")


async def test_fail_joins_answers_failed_with_its_reason() -> None:
    inbox, _ = _inbox(FailingJoiner())
    answers = Answers()
    await inbox.handle(JOIN_KEY, session_join(DEVICE).SerializeToString(), answers)
    assert _statuses(answers)[-1] == (FAILED, "joins are disabled on this device (--fail-joins)")


@pytest.mark.parametrize("fail_at", [1, 2], ids=["received", "joined"])
async def test_an_unconfirmed_answer_propagates_and_the_redelivery_is_answered(
    fail_at: int,
) -> None:
    """The client then leaves the message unacked; its redelivery joins once at most."""
    joiner = ScriptedJoiner()
    inbox, _ = _inbox(joiner)
    body = session_join(DEVICE).SerializeToString()
    with pytest.raises(ConnectionError):
        await inbox.handle(JOIN_KEY, body, Answers(fail_at=fail_at))
    answers = Answers()
    assert await inbox.handle(JOIN_KEY, body, answers) is Settlement.ACK
    assert _statuses(answers) == [(RECEIVED, ""), (JOINED, "")]
    assert len(joiner.calls) == 1, "joined once, whichever answer was lost"


async def test_a_ping_is_answered_with_a_pong() -> None:
    inbox, stats = _inbox(ScriptedJoiner())
    answers = Answers()
    ping = device_ping()
    assert await inbox.handle(PING_KEY, ping.SerializeToString(), answers) is Settlement.ACK
    [(key, message)] = answers.sent
    assert key == pongs_key(DEVICE)
    assert isinstance(message, DevicePong)
    assert (message.ping_id, message.device_id) == (ping.ping_id, DEVICE)
    assert stats.pongs == 1


@pytest.mark.parametrize(
    ("routing_key", "body"),
    [
        (JOIN_KEY, b"\xff\xff"),
        (JOIN_KEY, session_join(new_device_id()).SerializeToString()),
        (JOIN_KEY, mutated(session_join(DEVICE), request_id="")),
        (JOIN_KEY, SessionJoin(request_id="r", device_id=DEVICE).SerializeToString()),
        (PING_KEY, b"\xff\xff"),
        (PING_KEY, b""),
        ("sensor.s-1.commands.sleep", b""),
    ],
    ids=[
        "undecodable-join",
        "join-for-another-device",
        "join-without-request-id",
        "join-without-deadline",
        "undecodable-ping",
        "ping-without-id",
        "unknown-key",
    ],
)
async def test_invalid_messages_are_rejected_unanswered(routing_key: str, body: bytes) -> None:
    joiner = ScriptedJoiner()
    inbox, stats = _inbox(joiner)
    answers = Answers()
    assert await inbox.handle(routing_key, body, answers) is Settlement.REJECT
    assert answers.sent == []
    assert joiner.calls == []
    assert stats.rejected == 1


async def test_joins_are_handled_one_at_a_time() -> None:
    """A redelivery on a new connection waits for the old handling, so it joins once at most."""
    joiner = ScriptedJoiner(delay=0.05)
    inbox, _ = _inbox(joiner)
    body = session_join(DEVICE).SerializeToString()
    await asyncio.gather(*(inbox.handle(JOIN_KEY, body, Answers()) for _ in range(3)))
    assert len(joiner.calls) == 1
