"""Generate (or check) docs/asyncapi.yaml, the AsyncAPI 3.0 document of the message topology.

Built from ``iot_routing.access`` (who sends and receives what, on which key and queue) and the
protobuf descriptors of ``iot.v1`` (the payloads). Two kinds of channels, as AMQP has them:

- a routing-key channel per key on the ``iot`` exchange (``sensor.{serial}.measurements``),
  which publishers *send* to;
- a queue channel per queue (``sensor.all.measurements.db_writer``, ``sensor.{serial}.commands``,
  dead-letter queues too), which consumers *receive* from; its messages are those of the keys
  its bindings match.

Payload schemas follow protobuf's JSON mapping (lowerCamelCase names, 64-bit integers as
strings, enums by name, Timestamp as RFC 3339), though on the wire the body is the binary
protobuf (content type application/x-protobuf, AMQP ``type`` property = the full message name).

Run ``python -m iot_devstack.asyncapi --write``; ``--check`` exits 1 when the file is stale.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import iot.v1
import yaml
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from iot_routing import EXCHANGE, Exchange
from iot_routing.access import PARTIES, ROUTES, Name, Party, Queue, Route, all_queues, routes_into

from iot_devstack.generated import REPO, files_main, stale_paths

ASYNCAPI = Path("docs/asyncapi.yaml")
FIX = "python -m iot_devstack.asyncapi --write (make asyncapi)"
AMQP_BINDING_VERSION = "0.3.0"
CONTENT_TYPE = "application/x-protobuf"
TIMESTAMP = "google.protobuf.Timestamp"
VHOST = "/"

# Protobuf's JSON mapping of the scalar types (64-bit integers are strings, so that JavaScript
# readers lose no precision); strings are the default.
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
_UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}
_INT32 = {"type": "integer", "format": "int32"}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0}
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}


def load_messages() -> None:
    """Import every generated iot.v1 module, so the default pool knows its messages."""
    for module in pkgutil.iter_modules(iot.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"iot.v1.{module.name}")


def descriptor(full_name: str) -> Descriptor:
    load_messages()
    return descriptor_pool.Default().FindMessageTypeByName(full_name)


def _short(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]


class SchemaBuilder:
    """JSON schemas of protobuf messages and enums, each once, under components.schemas."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def message(self, message: Descriptor) -> dict[str, Any]:
        name = _short(message.full_name)
        if name not in self.schemas:
            self.schemas[name] = {}  # placed first: recursive messages stop here
            self.schemas[name] = self._message_schema(message)
        return {"$ref": f"#/components/schemas/{name}"}

    def _message_schema(self, message: Descriptor) -> dict[str, Any]:
        properties = {field.json_name: self._field(field) for field in message.fields}
        schema: dict[str, Any] = {
            "type": "object",
            "x-protobuf-message": message.full_name,
            "properties": properties,
        }
        oneofs = [oneof for oneof in message.oneofs if oneof.fields]
        if oneofs:
            schema["description"] = "; ".join(
                f"oneof {oneof.name}: at most one of "
                + ", ".join(field.json_name for field in oneof.fields)
                for oneof in oneofs
            )
        return schema

    def enum(self, enum: EnumDescriptor) -> dict[str, Any]:
        name = _short(enum.full_name)
        if name not in self.schemas:
            self.schemas[name] = {
                "type": "string",
                "x-protobuf-enum": enum.full_name,
                "enum": [value.name for value in enum.values],
            }
        return {"$ref": f"#/components/schemas/{name}"}

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.full_name == TIMESTAMP:
                return {"type": "string", "format": "date-time"}
            return self.message(field.message_type)
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            return self.enum(field.enum_type)
        return dict(_SCALARS.get(field.type, {"type": "string"}))

    def _field(self, field: FieldDescriptor) -> dict[str, Any]:
        single = self._single(field)
        if field.is_repeated:
            return {"type": "array", "items": single}
        return single


def _identifier(text: str) -> str:
    """An id for a map key (AsyncAPI wants [A-Za-z0-9_-]): ``sensor.{serial}.logs`` ->
    ``sensor-serial-logs``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text.replace("{", "").replace("}", "")).strip("-")


def _parameters(name: Name) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for word in name.parameters:
        parameter: dict[str, Any] = {"description": word.description}
        if word.values:
            parameter["enum"] = list(word.values)
        parameters[word.parameter] = parameter
    return parameters


def _exchange_binding(exchange: Exchange) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "type": exchange.type,
        "durable": exchange.durable,
        "autoDelete": False,
        "vhost": VHOST,
    }


def _message_refs(channel: str, routes: tuple[Route, ...]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{_short(route.message)}"} for route in routes]


def _queue_routes(queue: Queue) -> tuple[Route, ...]:
    """A dead-letter queue holds what its source queue held."""
    direct = routes_into(queue)
    if direct:
        return direct
    for source in all_queues():
        if source.dead_letter is not None and source.dead_letter.name == queue.name:
            return routes_into(source)
    return ()


def document() -> dict[str, Any]:
    """The whole AsyncAPI document."""
    schemas = SchemaBuilder()
    messages: dict[str, Any] = {}
    for route in ROUTES:
        name = _short(route.message)
        messages[name] = {
            "name": name,
            "title": route.message,
            "summary": route.summary,
            "contentType": CONTENT_TYPE,
            "payload": schemas.message(descriptor(route.message)),
            "bindings": {
                "amqp": {"messageType": route.message, "bindingVersion": AMQP_BINDING_VERSION}
            },
        }

    channels: dict[str, Any] = {}
    key_channel: dict[str, str] = {}
    for route in ROUTES:
        channel = _identifier(route.key.template)
        key_channel[route.key.template] = channel
        channels[channel] = {
            "address": route.key.template,
            "title": f"routing key {route.key.template}",
            "description": f"{route.summary}, published on the {EXCHANGE.name} exchange.",
            "messages": {
                _short(route.message): {"$ref": f"#/components/messages/{_short(route.message)}"}
            },
            "parameters": _parameters(route.key),
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": _exchange_binding(EXCHANGE),
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
    queue_channel: dict[str, str] = {}
    for queue in all_queues():
        channel = _identifier(f"queue.{queue.name.template}")
        queue_channel[queue.name.template] = channel
        held = _queue_routes(queue)
        bound = ", ".join(binding.template for binding in queue.bindings)
        channels[channel] = {
            "address": queue.name.template,
            "title": f"queue {queue.name.template}",
            "description": f"Bound to {queue.exchange.name} with {bound}.",
            "messages": {
                _short(r.message): {"$ref": f"#/components/messages/{_short(r.message)}"}
                for r in held
            },
            "parameters": _parameters(queue.name),
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": queue.name.template,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": VHOST,
                    },
                    "x-arguments": queue.arguments,
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
    for channel in channels.values():
        if "parameters" in channel and not channel["parameters"]:
            del channel["parameters"]

    operations: dict[str, Any] = {}
    for party in PARTIES:
        operations |= _operations(party, key_channel, queue_channel)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "IoT telemetry platform: message topology",
            "version": "1.0.0",
            "description": (
                "Generated from libs/routing (iot_routing.access) and proto/iot/v1 by"
                f" `{FIX}`; do not edit. Services log in as RabbitMQ users named like"
                " themselves; devices through the api-gateway's HTTP auth backend."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "pathname": VHOST,
                "description": "The broker (compose service / RabbitmqCluster `rabbitmq`).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas.schemas},
    }


def _operations(
    party: Party, key_channel: dict[str, str], queue_channel: dict[str, str]
) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for route in party.publishes:
        channel = key_channel[route.key.template]
        operations[_identifier(f"{party.name}.send.{channel}")] = {
            "action": "send",
            "title": f"{party.name} publishes {_short(route.message)}",
            "description": party.description,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": _message_refs(channel, (route,)),
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION}},
        }
    for queue in party.consumes:
        channel = queue_channel[queue.name.template]
        operations[_identifier(f"{party.name}.receive.{channel}")] = {
            "action": "receive",
            "title": f"{party.name} consumes {queue.name.template}",
            "description": party.description,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": _message_refs(channel, routes_into(queue)),
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        }
    return operations


def rendered() -> dict[Path, str]:
    header = "# Generated by `python -m iot_devstack.asyncapi --write`; do not edit.\n"
    text = yaml.safe_dump(document(), sort_keys=False, width=100, allow_unicode=True)
    return {ASYNCAPI: header + text}


def is_stale(root: Path = REPO) -> bool:
    return bool(stale_paths(rendered(), root))


def main(argv: list[str] | None = None) -> int:
    return files_main(
        argv,
        description=__doc__.split("\n", 1)[0],
        what=str(ASYNCAPI),
        fix=FIX,
        render=rendered,
    )


if __name__ == "__main__":
    sys.exit(main())
