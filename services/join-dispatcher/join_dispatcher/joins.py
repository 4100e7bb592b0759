"""Publishing one request's JOINs: a SessionJoin per device, each confirmed by the broker.

Each JOIN goes to ``join_key(project, group, device)`` and so only to that device's queue,
because it carries a join token with that device's identity. It is persistent, mandatory (a
JOIN no queue takes is an error, not a silent drop) and expires at the deadline, when it is
useless: a device that comes back later finds nothing, and is counted expired.

Before publishing, each device's queue is declared (idempotent; the api-gateway declared it
at registration, this makes sure, and the Publisher remembers it per connection). Failures are
kept apart per device so one broken device cannot hold up the others:
- Declarations run one at a time. A declaration the broker refuses (a queue that exists with
  other arguments) closes the channel, and with it whatever else is in flight on it.
- A failure that breaks the channel (a confirm that timed out, a lost connection) fails every
  other publish in flight on it too. The first round is concurrent (the normal case, fast);
  retry rounds publish one at a time, so that each JOIN that can be confirmed is. (A JOIN the
  broker nacks or returns fails alone.)
- A timeout means the broker is unreachable: the rest of the round is given up at once rather
  than each JOIN waiting out its own timeout.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import SessionJoin
from iot_messaging import Publisher, PublishError
from iot_routing import device_queue, join_key

from join_dispatcher.tokens import TokenMinter

UNREACHABLE = "broker unreachable (no answer in time)"


@dataclass(frozen=True)
class JoinRequestRow:
    """What a JOIN is made of, from the join_requests row."""

    id: uuid.UUID
    project: str
    group: str
    session_id: str
    session_name: str
    session_metadata_json: str
    deadline: datetime


@dataclass(frozen=True)
class Target:
    """A device to send the JOIN to."""

    device_id: str
    name: str


@dataclass
class PublishRound:
    """What became of each JOIN of one round."""

    confirmed: list[tuple[str, datetime]] = field(default_factory=list)  # device, confirmed at
    failed: dict[str, str] = field(default_factory=dict)  # device -> why
    too_late: list[str] = field(default_factory=list)  # the deadline passed first


def expiration_ms(deadline: datetime, now: datetime) -> int:
    """Milliseconds from now until the deadline (<= 0: already passed)."""
    return int((deadline - now).total_seconds() * 1000)


def timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


class JoinPublisher:
    """Builds and publishes the JOINs of a request."""

    def __init__(
        self,
        publisher: Publisher,
        tokens: TokenMinter,
        livekit_url: str,
        concurrency: int,
        timeout_seconds: float,
    ) -> None:
        self._publisher = publisher
        self._tokens = tokens
        self._livekit_url = livekit_url
        self._concurrency = concurrency
        self._timeout = timeout_seconds

    async def publish(
        self, request: JoinRequestRow, targets: Sequence[Target], *, concurrently: bool
    ) -> PublishRound:
        """Declare the targets' queues, then publish their JOINs; what became of each."""
        result = PublishRound()
        ready = await self._declare(request, targets, result)
        if concurrently:
            slots = asyncio.Semaphore(self._concurrency)

            async def bounded(target: Target) -> None:
                async with slots:
                    await self._publish_one(request, target, result)

            await asyncio.gather(*(bounded(target) for target in ready))
            return result
        for index, target in enumerate(ready):
            if not await self._publish_one(request, target, result):
                _give_up(ready[index + 1 :], result)
                break
        return result

    async def _declare(
        self, request: JoinRequestRow, targets: Sequence[Target], result: PublishRound
    ) -> list[Target]:
        """The targets whose queue is declared; the others are recorded as failed."""
        ready: list[Target] = []
        for index, target in enumerate(targets):
            queue = device_queue(request.project, request.group, target.device_id)
            try:
                async with asyncio.timeout(self._timeout):
                    await self._publisher.ensure_queue(queue)
            except TimeoutError:
                _give_up(targets[index:], result)
                break
            except PublishError as exc:
                result.failed[target.device_id] = str(exc)
                continue
            ready.append(target)
        return ready

    async def _publish_one(
        self, request: JoinRequestRow, target: Target, result: PublishRound
    ) -> bool:
        """Publish one JOIN and record the outcome; False if the broker did not answer."""
        now = datetime.now(UTC)
        ttl_ms = expiration_ms(request.deadline, now)
        if ttl_ms <= 0:
            result.too_late.append(target.device_id)
            return True
        try:
            async with asyncio.timeout(self._timeout):
                await self._publisher.publish(
                    join_key(request.project, request.group, target.device_id),
                    self._join(request, target, now),
                    expiration_ms=ttl_ms,
                    # Longer than ours, so that a silent broker shows as our TimeoutError.
                    timeout=2 * self._timeout,
                )
        except TimeoutError:
            result.failed[target.device_id] = UNREACHABLE
            return False
        except PublishError as exc:
            result.failed[target.device_id] = str(exc)
            return True
        result.confirmed.append((target.device_id, datetime.now(UTC)))
        return True

    def _join(self, request: JoinRequestRow, target: Target, now: datetime) -> SessionJoin:
        token = self._tokens.mint(
            device_id=target.device_id,
            device_name=target.name,
            room=request.session_name,
            deadline=request.deadline,
            now=now,
        )
        return SessionJoin(
            request_id=str(request.id),
            device_id=target.device_id,
            session_id=request.session_id,
            session_name=request.session_name,
            session_metadata_json=request.session_metadata_json,
            session_join_token=token,
            livekit_url=self._livekit_url,
            deadline=timestamp(request.deadline),
        )


def _give_up(targets: Sequence[Target], result: PublishRound) -> None:
    for target in targets:
        result.failed[target.device_id] = UNREACHABLE
