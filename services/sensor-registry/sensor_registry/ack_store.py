"""Turn the sensors' command acknowledgements into command status and reported state.

Per batch, in one transaction:
- commands: a DELIVERED ack moves a pending command to delivered; an outcome (applied,
  rejected, expired) is recorded only while the command has no sensor outcome yet
  (acked_at IS NULL). The first outcome wins, a redelivered ack changes nothing, and a
  sensor's outcome still replaces an 'expired' set by the sweep or a 'failed' set by the
  gateway, which leave acked_at NULL. Any ack proves delivery: delivered_at is set once.
- sensors: every ack, for a known command or not, is also a report of the sensor's state.
Commands are matched by id and by the acknowledging sensor's serial, so a sensor cannot
settle another sensor's command. Rows are locked in a fixed order (commands by id, then
sensors by serial) so concurrent registry replicas cannot deadlock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iot_service import ServiceMetrics

from sensor_registry.ack_decode import Ack
from sensor_registry.report_store import store_reports
from sensor_registry.reports import Report, newest_per_serial

_LOCK_KNOWN = """
SELECT c.id, s.serial_number
FROM commands AS c
JOIN sensors AS s ON s.id = c.sensor_id
JOIN unnest($1::uuid[], $2::text[]) AS a(id, serial)
    ON a.id = c.id AND a.serial = s.serial_number
ORDER BY c.id
FOR NO KEY UPDATE OF c
"""

# `wins`: this batch's outcome is the command's first sensor outcome. Repeated per column
# because SET expressions cannot share a subexpression; the WHERE clause skips acks that
# would change nothing, so redeliveries write no new row versions.
_WINS = "(a.outcome IS NOT NULL AND c.acked_at IS NULL)"
_APPLY = f"""
UPDATE commands AS c SET
    status = CASE WHEN {_WINS} THEN a.outcome
                  WHEN c.status = 'pending' THEN 'delivered'
                  ELSE c.status END,
    reason = CASE WHEN {_WINS} THEN a.reason ELSE c.reason END,
    completed_at = CASE WHEN {_WINS} THEN a.outcome_at ELSE c.completed_at END,
    acked_at = CASE WHEN {_WINS} THEN a.outcome_at ELSE c.acked_at END,
    reported_asleep = CASE WHEN {_WINS} THEN a.asleep ELSE c.reported_asleep END,
    reported_sample_frequency_hz = CASE WHEN {_WINS} THEN a.hz
                                        ELSE c.reported_sample_frequency_hz END,
    delivered_at = coalesce(c.delivered_at, a.delivered_at)
FROM (
    SELECT id, outcome, reason, asleep, hz,
           timestamptz 'epoch' + delivered_us * interval '1 microsecond' AS delivered_at,
           timestamptz 'epoch' + outcome_us * interval '1 microsecond' AS outcome_at
    FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bool[], $6::float8[],
                $7::bigint[])
        AS u(id, delivered_us, outcome, reason, asleep, hz, outcome_us)
) AS a
WHERE c.id = a.id
  AND ({_WINS} OR c.status = 'pending' OR c.delivered_at IS NULL)
RETURNING c.status
"""


@dataclass
class _CommandAcks:
    """Everything one batch says about one command."""

    delivered_us: int  # the earliest ack: the sensor had the command by then
    outcome: Ack | None = None  # the earliest outcome

    def add(self, ack: Ack) -> None:
        self.delivered_us = min(self.delivered_us, ack.report.at_us)
        if ack.is_outcome and (
            self.outcome is None or ack.report.at_us < self.outcome.report.at_us
        ):
            self.outcome = ack


def _by_command(acks: Sequence[Ack]) -> dict[tuple[uuid.UUID, str], _CommandAcks]:
    # One row per command per statement (UPDATE ... FROM applies only one source row).
    commands: dict[tuple[uuid.UUID, str], _CommandAcks] = {}
    for ack in acks:
        key = (ack.command_id, ack.serial)
        if key not in commands:
            commands[key] = _CommandAcks(ack.report.at_us)
        commands[key].add(ack)
    return commands


class AckStore:
    """The batch handler of sensor.all.command_acks.tracker."""

    def __init__(self, pool: Any, metrics: ServiceMetrics, log: Any) -> None:
        self._pool = pool
        self._log = log
        self._unknown = metrics.counter(
            "command_acks_unknown", "Acknowledgements of commands the registry has no row for"
        )
        self._updated = metrics.counter(
            "commands_updated", "Commands changed by acknowledgements, by new status", ["status"]
        )

    async def __call__(self, acks: Sequence[Ack]) -> None:
        commands = _by_command(acks)
        reports: dict[str, Report] = {}
        for ack in acks:
            newest_per_serial(reports, ack.serial, ack.report)
        # Sorted only for tidy arrays; the lock statement's ORDER BY fixes the locking order.
        ordered = sorted(commands.items(), key=lambda item: item[0][0])
        async with self._pool.acquire() as connection, connection.transaction():
            known = {
                (row["id"], row["serial_number"])
                for row in await connection.fetch(
                    _LOCK_KNOWN, [k[0] for k, _ in ordered], [k[1] for k, _ in ordered]
                )
            }
            statuses = await self._apply(connection, [(k[0], c) for k, c in ordered if k in known])
            reported = await store_reports(connection, reports)
        self._count(acks, known, statuses, reported)

    async def _apply(
        self, connection: Any, commands: list[tuple[uuid.UUID, _CommandAcks]]
    ) -> list[str]:
        if not commands:
            return []
        outcomes = [c.outcome for _, c in commands]
        rows = await connection.fetch(
            _APPLY,
            [command_id for command_id, _ in commands],
            [c.delivered_us for _, c in commands],
            [o.status if o else None for o in outcomes],
            [o.reason if o else None for o in outcomes],
            [o.report.asleep if o else None for o in outcomes],
            [o.report.sample_frequency_hz if o else None for o in outcomes],
            [o.report.at_us if o else None for o in outcomes],
        )
        return [row["status"] for row in rows]

    def _count(
        self,
        acks: Sequence[Ack],
        known: set[tuple[uuid.UUID, str]],
        statuses: list[str],
        reported: int,
    ) -> None:
        # Counted and logged only after the commit: a retried batch must not count twice.
        for ack in acks:
            if (ack.command_id, ack.serial) not in known:
                self._unknown.inc()
                self._log.info(
                    "acknowledgement of an unknown command",
                    command_id=str(ack.command_id),
                    serial=ack.serial,
                    status=ack.status,
                )
        changed = Counter(statuses)
        for status, count in changed.items():
            self._updated.labels(status=status).inc(count)
        self._log.info(
            "command acknowledgements stored",
            acks=len(acks),
            commands_changed=dict(changed),
            sensors_reported=reported,
        )
