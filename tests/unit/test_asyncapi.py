"""docs/asyncapi.yaml: current, complete, internally consistent, and true to the protobufs.

No package in the environment ships the official AsyncAPI 3.0 JSON schema, so the structure is
checked here: required top-level keys, every $ref resolves, operations point at channels and
at messages of those channels, and each payload schema is a valid JSON schema that real
messages (protobuf's JSON mapping of a filled-in message) validate against.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from iot_devstack.asyncapi import ASYNCAPI, FIX, descriptor, is_stale
from iot_routing.access import PARTIES, ROUTES, all_queues

from tests.support import REPO


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / ASYNCAPI).read_text())
    return document


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_committed_document_is_what_the_generator_makes() -> None:
    assert not is_stale(), f"{ASYNCAPI} is stale: run {FIX}"


def test_structure(spec: dict[str, Any]) -> None:
    assert spec["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= set(spec["info"])
    assert spec["servers"]["rabbitmq"]["protocol"] == "amqp"
    identifier = re.compile(r"^[A-Za-z0-9_\-]+$")
    for section in ("channels", "operations"):
        assert spec[section]
        assert all(identifier.match(key) for key in spec[section]), section
    for section in ("messages", "schemas"):
        assert all(identifier.match(key) for key in spec["components"][section]), section
    for ref in _refs(spec):
        _resolve(spec, ref)


def test_channel_parameters_are_exactly_the_address_placeholders(spec: dict[str, Any]) -> None:
    for name, channel in spec["channels"].items():
        placeholders = set(re.findall(r"\{([a-z]+)\}", channel["address"]))
        assert placeholders == set(channel.get("parameters", {})), name


def test_operations_use_messages_of_their_channel(spec: dict[str, Any]) -> None:
    for name, operation in spec["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel_ref = operation["channel"]["$ref"]
        assert operation["messages"], name
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name


def test_every_routing_key_and_queue_appears(spec: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert {route.key.template for route in ROUTES} <= addresses
    assert {queue.name.template for queue in all_queues()} <= addresses
    routing_keys = {
        c["address"]
        for c in spec["channels"].values()
        if c["bindings"]["amqp"]["is"] == "routingKey"
    }
    assert routing_keys == {route.key.template for route in ROUTES}
    for channel in spec["channels"].values():
        if channel["bindings"]["amqp"]["is"] == "routingKey":
            assert channel["bindings"]["amqp"]["exchange"]["name"] == "iot"


def test_every_party_has_its_operations(spec: dict[str, Any]) -> None:
    operations = spec["operations"].values()
    for party in PARTIES:
        sent = {
            _resolve(spec, o["channel"]["$ref"])["address"]
            for o in operations
            if o["action"] == "send" and o["title"].startswith(party.name + " ")
        }
        received = {
            _resolve(spec, o["channel"]["$ref"])["address"]
            for o in operations
            if o["action"] == "receive" and o["title"].startswith(party.name + " ")
        }
        assert sent == {route.key.template for route in party.publishes}, party.name
        assert received == {queue.name.template for queue in party.consumes}, party.name


def test_message_schemas_name_real_protobuf_messages_and_fields(spec: dict[str, Any]) -> None:
    messages = spec["components"]["messages"]
    assert {message["title"] for message in messages.values()} == {r.message for r in ROUTES}
    for message in messages.values():
        assert message["bindings"]["amqp"]["messageType"] == message["title"]
    for name, schema in spec["components"]["schemas"].items():
        if "x-protobuf-message" in schema:
            fields = {f.json_name for f in descriptor(schema["x-protobuf-message"]).fields}
            assert set(schema["properties"]) == fields, name


def _filled(message: Message) -> Message:
    """Set every scalar, repeated and nested field (the first of each oneof) to a value."""
    chosen: set[str] = set()
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in chosen:
                continue
            chosen.add(oneof.name)
        if field.message_type is not None:
            target = getattr(message, field.name)
            if field.message_type.full_name == "google.protobuf.Timestamp":
                target.FromSeconds(1_700_000_000)
            else:
                target.CopyFrom(_filled(target))
                target.SetInParent()
        elif field.is_repeated:
            getattr(message, field.name).extend([1.5, 2.5])
        elif field.enum_type is not None:
            setattr(message, field.name, field.enum_type.values[-1].number)
        elif field.type == field.TYPE_STRING:
            setattr(message, field.name, "text")
        elif field.type == field.TYPE_BOOL:
            setattr(message, field.name, True)
        elif field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
            setattr(message, field.name, 12.5)
        else:
            setattr(message, field.name, 2**40 if "64" in str(field.type) else 7)
    return message


def test_real_messages_validate_against_their_payload_schemas(spec: dict[str, Any]) -> None:
    for route in ROUTES:
        message = spec["components"]["messages"][route.message.rsplit(".", 1)[1]]
        payload = dict(message["payload"])
        # The $refs point into the document: resolve them with the document as the root.
        payload["components"] = spec["components"]
        jsonschema.Draft7Validator.check_schema(payload)
        instance = MessageToDict(_filled(GetMessageClass(descriptor(route.message))()))
        assert instance, route.message
        jsonschema.Draft7Validator(payload).validate(instance)
        wrong = {**instance, next(iter(instance)): {"not": "this"}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft7Validator(payload).validate(wrong)
