"""The sensor-registry turns real CommandAck messages into command status and reported state.

The registry runs as its real process, as iot_app; commands rows are inserted as the gateway
would, acknowledgements are published as sensors do, and every assertion is on stored rows or
on the dead-letter queue.
"""

from __future__ import annotations

import uuid

import pytest
from iot_routing import COMMAND_ACKS, command_acks_key

from tests.control_messages import (
    APPLIED,
    DELIVERED,
    REJECTED,
    ack,
    ack_message,
)
from tests.integration.control_plane import (
    US,
    add_command,
    add_sensor,
    at,
    command,
    dead_letter_of,
    now_us,
    sensor,
)
from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import Broker, Services, eventually, http_port, metric
from tests.messages import mutated
from tests.support import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

PROCESSED = "iot_messages_processed_total"
DEAD_LETTER = dead_letter_of(COMMAND_ACKS)
SWEEP_REASON = "no outcome acknowledged by the deadline"


class Registry:
    """A running sensor-registry and the test's broker connection."""

    def __init__(self, process: ServiceProcess, broker: Broker, database: TestDatabase) -> None:
        self.process = process
        self.port = http_port(process)
        self.broker = broker
        self.db = database.admin_url
        self.published = 0

    async def ack(self, serial: str, body: bytes) -> None:
        await self.broker.publish(command_acks_key(serial), body)
        self.published += 1

    async def all_taken(self) -> None:
        """Wait until every ack published so far was stored (or dead-lettered)."""

        async def taken() -> bool:
            done = metric(self.port, PROCESSED, queue=COMMAND_ACKS.name)
            dead = await self.broker.depth(DEAD_LETTER)
            return done + dead >= self.published

        await eventually(taken, 30, f"{self.published} acknowledgements to be taken")

    async def status(self, command_id: str, status: str) -> dict[str, object]:
        async def reached() -> dict[str, object] | None:
            row = command(self.db, command_id)
            return row if row["status"] == status else None

        return await eventually(reached, 30, f"command {command_id} to be {status}")


def _registry(services: Services, **env: str) -> ServiceProcess:
    return services.start("sensor-registry", **env)


async def test_a_command_goes_pending_delivered_applied(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-1")
    command_id = add_command(database.admin_url, "trk-1", "sleep")
    t1 = now_us() - 2 * US
    t2 = t1 + 1000
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        await registry.ack("trk-1", ack_message("trk-1", command_id, DELIVERED, t1))
        delivered = await registry.status(command_id, "delivered")
        assert delivered["delivered_at"] == at(t1)
        assert (delivered["completed_at"], delivered["acked_at"]) == (None, None)

        await registry.ack(
            "trk-1", ack_message("trk-1", command_id, APPLIED, t2, asleep=True, frequency=50)
        )
        applied = await registry.status(command_id, "applied")
    assert (applied["delivered_at"], applied["completed_at"], applied["acked_at"]) == (
        at(t1),
        at(t2),
        at(t2),
    )
    assert (applied["reported_asleep"], applied["reported_sample_frequency_hz"]) == (True, 50.0)
    assert applied["reason"] is None
    row = sensor(database.admin_url, "trk-1")
    assert (row["reported_asleep"], row["sample_frequency_hz"], row["reported_at"]) == (
        True,
        50.0,
        at(t2),
    )


async def test_an_outcome_before_its_delivered_ack_ends_applied_with_delivered_at(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-2")
    command_id = add_command(database.admin_url, "trk-2", "awake")
    t1 = now_us() - 2 * US
    t2 = t1 + 1000
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        await registry.ack("trk-2", ack_message("trk-2", command_id, APPLIED, t2))
        applied = await registry.status(command_id, "applied")
        assert applied["delivered_at"] == at(t2), "the outcome proves delivery"
        await registry.ack("trk-2", ack_message("trk-2", command_id, DELIVERED, t1))
        await registry.all_taken()
    final = command(database.admin_url, command_id)
    assert final == applied, "a late DELIVERED neither moves the status back nor rewrites it"


async def test_redelivered_and_later_acks_change_nothing_once_an_outcome_is_stored(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-3")
    command_id = add_command(database.admin_url, "trk-3", "sleep")
    t1 = now_us() - 5 * US
    delivered = ack_message("trk-3", command_id, DELIVERED, t1)
    applied = ack_message("trk-3", command_id, APPLIED, t1 + 10, asleep=True)
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        await registry.ack("trk-3", delivered)
        await registry.ack("trk-3", applied)
        first = await registry.status(command_id, "applied")
        # The sensor took the command again after a crash (same outcome, later), RabbitMQ
        # redelivered both acks, and the publisher repeated one after a lost confirm.
        again = ack_message("trk-3", command_id, APPLIED, t1 + 20, asleep=True)
        rejected = ack_message("trk-3", command_id, REJECTED, t1 + 30, reason="late")
        for body in (delivered, applied, applied, again, rejected, delivered):
            await registry.ack("trk-3", body)
        await registry.all_taken()
    assert command(database.admin_url, command_id) == first, "not even rewritten (same xmin)"


async def test_a_late_outcome_replaces_an_expiry_by_the_sweep(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-4")
    command_id = add_command(database.admin_url, "trk-4", "sleep", expires_in=-5)
    async with Broker(amqp_url) as broker:
        process = _registry(
            services, IOT_COMMAND_SWEEP_SECONDS="0.2", IOT_COMMAND_EXPIRY_GRACE_SECONDS="0"
        )
        registry = Registry(process, broker, database)
        expired = await registry.status(command_id, "expired")
        assert expired["reason"] == SWEEP_REASON
        assert expired["completed_at"] is not None
        assert expired["acked_at"] is None

        acked = now_us()
        await registry.ack("trk-4", ack_message("trk-4", command_id, APPLIED, acked, asleep=True))
        applied = await registry.status(command_id, "applied")
    assert (applied["reason"], applied["acked_at"], applied["completed_at"]) == (
        None,
        at(acked),
        at(acked),
    )
    assert applied["delivered_at"] == at(acked)
    assert metric(registry.port, "iot_commands_expired_total") == 1


async def test_the_sweep_expires_only_overdue_open_commands(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    db = database.admin_url
    add_sensor(db, "trk-5")
    overdue = add_command(db, "trk-5", "sleep", expires_in=-120)
    overdue_delivered = add_command(db, "trk-5", "awake", expires_in=-120, status="delivered")
    within_grace = add_command(db, "trk-5", "sleep", expires_in=-10)
    not_due = add_command(db, "trk-5", "awake", expires_in=600)
    finished = add_command(db, "trk-5", "sleep", expires_in=-120, status="applied")
    failed = add_command(db, "trk-5", "sleep", expires_in=-120, status="failed")
    async with Broker(amqp_url) as broker:
        process = _registry(
            services, IOT_COMMAND_SWEEP_SECONDS="0.2", IOT_COMMAND_EXPIRY_GRACE_SECONDS="60"
        )
        registry = Registry(process, broker, database)
        await registry.status(overdue, "expired")
        await registry.status(overdue_delivered, "expired")
    # All rows were there before the first sweep, which expired the two overdue ones at once.
    statuses = {c: command(db, c)["status"] for c in (within_grace, not_due, finished, failed)}
    assert statuses == {
        within_grace: "pending",
        not_due: "pending",
        finished: "applied",
        failed: "failed",
    }
    # The sweep logs right after committing: the line may trail the rows by a moment.
    wait_until(lambda: '"commands expired"' in process.logs(), 10, "the sweep's log line")


async def test_an_old_ack_does_not_overwrite_a_newer_reported_state(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-6")
    newer = add_command(database.admin_url, "trk-6", "sleep")
    older = add_command(database.admin_url, "trk-6", "change_sample_frequency", frequency=10)
    t2 = now_us() - US
    t1 = t2 - 500_000
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        await registry.ack(
            "trk-6", ack_message("trk-6", newer, APPLIED, t2, asleep=True, frequency=50)
        )
        await registry.status(newer, "applied")
        await registry.ack(
            "trk-6", ack_message("trk-6", older, APPLIED, t1, asleep=False, frequency=10)
        )
        old_outcome = await registry.status(older, "applied")
    # The older command's own outcome is recorded as the sensor reported it then...
    assert (old_outcome["reported_asleep"], old_outcome["reported_sample_frequency_hz"]) == (
        False,
        10.0,
    )
    # ...but the sensor's current state stays the newer report.
    row = sensor(database.admin_url, "trk-6")
    assert (row["reported_asleep"], row["sample_frequency_hz"], row["reported_at"]) == (
        True,
        50.0,
        at(t2),
    )


async def test_an_ack_of_an_unknown_command_still_reports_the_sensor_state(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-7")
    add_sensor(database.admin_url, "trk-8")
    # trk-8's command, acknowledged by trk-7: a sensor cannot settle another sensor's command.
    foreign = add_command(database.admin_url, "trk-8", "sleep")
    acked = now_us() - US
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        await registry.ack(
            "trk-7",
            ack_message("trk-7", str(uuid.uuid4()), APPLIED, acked, asleep=True, frequency=20),
        )
        await registry.ack("trk-7", ack_message("trk-7", foreign, APPLIED, acked + 1))

        async def reported() -> bool:
            row = sensor(database.admin_url, "trk-7")
            return bool(row["reported_at"] == at(acked + 1))

        await eventually(reported, 30, "trk-7's reported state")
        await registry.all_taken()
        unknown = metric(registry.port, "iot_command_acks_unknown_total")
    row = sensor(database.admin_url, "trk-7")
    assert (row["reported_asleep"], row["sample_frequency_hz"]) == (False, 100.0)
    assert command(database.admin_url, foreign)["status"] == "pending"
    assert unknown == 2
    assert process_logs_mention(registry, "acknowledgement of an unknown command")


def process_logs_mention(registry: Registry, event: str) -> bool:
    return f'"{event}"' in registry.process.logs()


async def test_invalid_acks_are_dead_lettered_and_valid_ones_in_the_stream_stored(
    amqp_url: str, database: TestDatabase, services: Services
) -> None:
    add_sensor(database.admin_url, "trk-9")
    first = add_command(database.admin_url, "trk-9", "sleep")
    second = add_command(database.admin_url, "trk-9", "awake")
    acked = now_us() - US

    def invalid_variant(**changes: object) -> bytes:
        return mutated(ack("trk-9", first, APPLIED, acked), **changes)

    invalid = [
        b"\x08\x96\x01\xff",  # not a CommandAck
        ack_message("trk-10", first, APPLIED, acked),  # claims another sensor's serial
        invalid_variant(status=0),  # COMMAND_STATUS_UNSPECIFIED
        invalid_variant(acked_at=None),
        invalid_variant(command_id="not-a-uuid"),
        ack_message("trk-9", first, APPLIED, acked, frequency=0.0),
    ]
    stream = [
        ack_message("trk-9", first, APPLIED, acked),
        *invalid,
        ack_message("trk-9", second, REJECTED, acked + 1, reason="no"),
    ]
    async with Broker(amqp_url) as broker:
        registry = Registry(_registry(services), broker, database)
        for body in stream:
            await registry.ack("trk-9", body)
        await registry.status(first, "applied")
        rejected = await registry.status(second, "rejected")

        async def all_dead_lettered() -> bool:
            return await broker.depth(DEAD_LETTER) == len(invalid)

        await eventually(all_dead_lettered, 30, "every invalid ack in the dead-letter queue")
    assert rejected["reason"] == "no"
    assert registry.process.logs().count('"message dead-lettered"') == len(invalid)
