"""Turn the devices' join acknowledgements into delivery status and presence.

Per batch, in one transaction: the deliveries the batch names are locked (in the service's
lock order, see store.py), each one's answers are applied by `status.settle` (forward only,
the first outcome in time wins, an outcome must be answered by the deadline), and only rows
that changed are written, so a redelivered acknowledgement writes nothing. Then every device
that answered is marked as seen. A delivery is matched by request id *and* the answering
device, so a device cannot settle another device's delivery. Acknowledgements with no delivery
row (an unknown request, or a device the request did not target) are acked, counted and
logged, not stored; they still count as signs of life.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from join_dispatcher.decode import DeviceAnswer
from join_dispatcher.metrics import DispatcherMetrics
from join_dispatcher.presence import touch_devices
from join_dispatcher.status import Answer, Delivery, settle

_LOCK = """
SELECT d.request_id, d.device_id, d.status, d.reason, d.delivered_at, d.answered_at, r.deadline
FROM join_deliveries AS d
JOIN unnest($1::uuid[], $2::text[]) AS a(request_id, device_id) USING (request_id, device_id)
JOIN join_requests AS r ON r.id = d.request_id
ORDER BY d.request_id, d.device_id
FOR NO KEY UPDATE OF d
"""

_UPDATE = """
UPDATE join_deliveries AS d
SET status = u.status, reason = u.reason, delivered_at = u.delivered_at,
    answered_at = u.answered_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
            $6::timestamptz[]) AS u(request_id, device_id, status, reason, delivered_at,
                                    answered_at)
WHERE d.request_id = u.request_id AND d.device_id = u.device_id
"""

Key = tuple[uuid.UUID, str]


def _by_delivery(answers: Sequence[DeviceAnswer]) -> dict[Key, list[Answer]]:
    grouped: dict[Key, list[Answer]] = defaultdict(list)
    for answer in answers:
        grouped[(answer.request_id, answer.device_id)].append(answer.answer)
    return grouped


class AckStore:
    """The batch handler of device.all.join_acks.dispatcher."""

    def __init__(self, pool: Any, metrics: DispatcherMetrics, log: Any) -> None:
        self._pool = pool
        self._metrics = metrics
        self._log = log

    async def __call__(self, answers: Sequence[DeviceAnswer]) -> None:
        grouped = _by_delivery(answers)
        keys = sorted(grouped)
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(_LOCK, [k[0] for k in keys], [k[1] for k in keys])
            changed: dict[Key, Delivery] = {}
            for row in rows:
                key = (row["request_id"], row["device_id"])
                before = Delivery(
                    row["status"], row["reason"], row["delivered_at"], row["answered_at"]
                )
                after = settle(before, grouped[key], row["deadline"])
                if after != before:
                    changed[key] = after
            await self._write(connection, changed)
            await touch_devices(connection, [a.device_id for a in answers])
        self._count(answers, {(row["request_id"], row["device_id"]) for row in rows}, changed)

    @staticmethod
    async def _write(connection: Any, changed: dict[Key, Delivery]) -> None:
        if not changed:
            return
        keys = sorted(changed)
        rows = [changed[key] for key in keys]
        await connection.execute(
            _UPDATE,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [r.status for r in rows],
            [r.reason for r in rows],
            [r.delivered_at for r in rows],
            [r.answered_at for r in rows],
        )

    def _count(
        self, answers: Sequence[DeviceAnswer], known: set[Key], changed: dict[Key, Delivery]
    ) -> None:
        # Counted and logged only after the commit: a retried batch must not count twice.
        for answer in answers:
            if (answer.request_id, answer.device_id) in known:
                self._metrics.acks.labels(status=answer.answer.status).inc()
                continue
            self._metrics.acks_unknown.inc()
            self._log.info(
                "acknowledgement without a delivery",
                request_id=str(answer.request_id),
                device_id=answer.device_id,
                status=answer.answer.status,
            )
        statuses = Counter(delivery.status for delivery in changed.values())
        for status, count in statuses.items():
            self._metrics.deliveries_updated.labels(status=status).inc(count)
        self._log.info(
            "join acknowledgements stored", acks=len(answers), deliveries_changed=dict(statuses)
        )
