"""The names users and deployments rely on, exactly as documented."""

from __future__ import annotations

import pytest
from iot_routing import (
    COMMAND_ACKS,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    LOGS,
    MEASUREMENTS_DB_WRITER,
    REGISTRY_CREATED,
    Command,
    InvalidSerialError,
    command_acks_key,
    commands_key,
    commands_queue,
    logs_key,
    measurements_key,
    registry_key,
    serial_from_hostname,
    validate_serial,
)


def test_exchange_is_the_durable_topic_exchange_iot() -> None:
    assert (EXCHANGE.name, EXCHANGE.type, EXCHANGE.durable) == ("iot", "topic", True)


def test_queue_names_follow_entity_id_consumer_type() -> None:
    assert MEASUREMENTS_DB_WRITER.name == "sensor.all.measurements.db_writer"
    assert REGISTRY_CREATED.name == "sensor.all.registry.created"
    assert LOGS.name == "sensor.all.logs"
    assert commands_queue("pump-7").name == "sensor.pump-7.commands"


def test_publisher_keys_and_consumer_bindings() -> None:
    assert measurements_key("pump-7") == "sensor.pump-7.measurements"
    assert registry_key("pump-7") == "sensor.pump-7.registry"
    assert logs_key("pump-7") == "sensor.pump-7.logs"
    assert commands_key("pump-7", Command.SLEEP) == "sensor.pump-7.commands.sleep"
    assert commands_key("pump-7", Command.CHANGE_SAMPLE_FREQUENCY).endswith(
        ".commands.change_sample_frequency"
    )
    assert MEASUREMENTS_DB_WRITER.bindings == ("sensor.*.measurements",)
    assert REGISTRY_CREATED.bindings == ("sensor.*.registry.#",)
    assert LOGS.bindings == ("sensor.*.logs.#",)
    # A sensor's queue takes only its own commands, never another sensor's.
    assert commands_queue("pump-7").bindings == ("sensor.pump-7.commands.#",)


def test_queues_are_quorum_with_a_dead_letter_queue_and_delivery_limit() -> None:
    arguments = MEASUREMENTS_DB_WRITER.arguments
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE.name
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert arguments["x-delivery-limit"] > 1
    dead = MEASUREMENTS_DB_WRITER.dead_letter
    assert dead is not None
    assert dead.name == "sensor.all.measurements.dead_letter"
    assert dead.exchange == DEAD_LETTER_EXCHANGE
    assert dead.bindings == (arguments["x-dead-letter-routing-key"],)
    assert dead.dead_letter is None


@pytest.mark.parametrize("serial", ["a", "pump-7", "SN-0001", "x" * 64, "7f3a9c2b1d4e"])
def test_valid_serials(serial: str) -> None:
    assert validate_serial(serial) == serial


@pytest.mark.parametrize(
    "serial", ["", "1234", "a.b", "a*", "a#", "a b", "all", "ALL", "x" * 65, "ü-1"]
)
def test_invalid_serials_are_refused_with_a_reason(serial: str) -> None:
    with pytest.raises(InvalidSerialError, match="serial number"):
        measurements_key(serial)


def test_serials_from_hostnames_are_valid_and_stable() -> None:
    assert serial_from_hostname("sensor-simulator-3") == "sensor-simulator-3"
    assert serial_from_hostname("sim.example.org") == "sim"
    numeric = serial_from_hostname("123456")
    assert validate_serial(numeric) == numeric == serial_from_hostname("123456")
    assert serial_from_hostname("123456") != serial_from_hostname("123457")


def test_command_acknowledgements_have_a_fan_in_queue() -> None:
    assert command_acks_key("pump-7") == "sensor.pump-7.command_acks"
    assert COMMAND_ACKS.name == "sensor.all.command_acks.tracker"
    assert COMMAND_ACKS.bindings == ("sensor.*.command_acks",)


def test_command_queues_drop_rather_than_dead_letter_but_cap_redeliveries() -> None:
    queue = commands_queue("pump-7")
    assert queue.dead_letter is None
    assert queue.arguments == {"x-queue-type": "quorum", "x-delivery-limit": 20}
