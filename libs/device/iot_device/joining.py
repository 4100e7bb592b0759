"""What joining a session means to the device client: a pluggable, asynchronous Joiner.

The client handles the protocol (acknowledgements, deadline, deduplication, acks to RabbitMQ);
a Joiner does the joining itself. A real device connects to the LiveKit room here; the default
joiner of the `iot-device` command only checks the join token (see token_joiner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from iot.v1.join_pb2 import SessionJoin


@dataclass(frozen=True)
class JoinResult:
    """The outcome of one join: joined, or failed with a reason an operator can read."""

    joined: bool
    reason: str = ""

    @classmethod
    def success(cls) -> JoinResult:
        return cls(joined=True)

    @classmethod
    def failure(cls, reason: str) -> JoinResult:
        return cls(joined=False, reason=reason or "join failed")


class Joiner(Protocol):
    """Joins a session. Called at most once per successfully joined request (the client
    remembers joined requests), and again for a request whose previous attempt failed.

    Return a failure rather than raising for expected problems; an exception is reported as a
    failure too (with the exception's type), and a join that takes longer than the client's
    join timeout is abandoned and reported as failed.
    """

    async def join(self, join: SessionJoin) -> JoinResult: ...


class FailingJoiner:
    """Fails every join with a fixed reason (`iot-device run --fail-joins`: demos and tests)."""

    def __init__(self, reason: str = "joins are disabled on this device (--fail-joins)") -> None:
        self._reason = reason

    async def join(self, join: SessionJoin) -> JoinResult:
        return JoinResult.failure(self._reason)
