"""Counters a device client keeps about itself (for its logs, its owner's metrics and tests)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeviceStats:
    """Running totals since the client started; only ever incremented."""

    # Sessions that got as far as consuming the queue.
    connections: int = 0
    # Logins (or reads of its own queue) the broker refused: credential revoked, rotated or wrong.
    access_refused: int = 0
    # Connections that found no queue: the device is not provisioned yet, or it was revoked.
    queue_missing: int = 0
    joins_received: int = 0
    # Repeated JOINs of a request already joined, answered JOINED without joining again.
    joins_repeated: int = 0
    joined: int = 0
    join_failed: int = 0
    pongs: int = 0
    # Messages rejected (dropped) as invalid: undecodable, for another device, unknown key.
    rejected: int = 0
    # Answers the broker did not confirm; their message was left unacknowledged for redelivery.
    answers_failed: int = 0
