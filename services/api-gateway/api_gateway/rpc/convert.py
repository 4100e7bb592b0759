"""Between protobuf messages and the API's pydantic models, driven by the message descriptors.

The proto fields carry the models' field names, so one pair of functions serves every RPC and
no per-message table can fall out of step. The rules:

- an unset `optional` field or an unset message (a timestamp) is None, and None leaves it unset;
- enums follow the proto style guide: a model value "change_sample_frequency" is the number of
  COMMAND_ACTION_CHANGE_SAMPLE_FREQUENCY in the enum CommandAction, and UNSPECIFIED (0) is None;
- datetimes are google.protobuf.Timestamp; UUIDs are strings.

Answers are converted strictly: a model field without a proto field (or the reverse) raises
ConversionError, so drift between models.py and gateway.proto fails the tests instead of
silently dropping data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

if TYPE_CHECKING:
    from google._upb import _message as upb
    from google.protobuf import descriptor

    # Descriptors come from the C implementation at run time; the stubs type them as either.
    EnumDescriptor: TypeAlias = descriptor.EnumDescriptor | upb.EnumDescriptor
    FieldDescriptor: TypeAlias = descriptor.FieldDescriptor | upb.FieldDescriptor

M = TypeVar("M", bound=Message)
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


class ConversionError(TypeError):
    """A model and its proto message do not have the same fields: a bug, not a client error."""


def enum_prefix(enum: EnumDescriptor) -> str:
    """The prefix of an enum's value names: ApiKeyRole -> 'API_KEY_ROLE_'."""
    return _WORD_START.sub("_", enum.name).upper() + "_"


def enum_number(enum: EnumDescriptor, text: str) -> int:
    """The number of a model's enum value ('asleep' -> SENSOR_PRESENCE_ASLEEP).

    Text the enum does not know (a sensor kind newer than this proto) becomes UNSPECIFIED, as
    proto3 readers treat unknown values; the model enums are checked to map fully by a test.
    """
    value = enum.values_by_name.get(enum_prefix(enum) + text.upper())
    return 0 if value is None else value.number


def enum_text(enum: EnumDescriptor, number: int) -> str | int | None:
    """A request's enum number as the model's value; None for UNSPECIFIED.

    A number the enum does not know is passed on as is, so that the model refuses it with the
    list of allowed values.
    """
    if number == 0:
        return None
    value = enum.values_by_number.get(number)
    if value is None:
        return number
    return value.name.removeprefix(enum_prefix(enum)).lower()


def from_proto(message: Message) -> dict[str, Any]:
    """A request's fields as the input of a pydantic model (requests hold scalars only)."""
    values: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.is_repeated or field.message_type is not None:
            raise ConversionError(f"{field.full_name}: requests hold only scalar fields")
        if field.has_presence and not message.HasField(field.name):
            values[field.name] = None
            continue
        value = getattr(message, field.name)
        values[field.name] = value if field.enum_type is None else enum_text(field.enum_type, value)
    return values


def to_proto(source: BaseModel | Mapping[str, Any], cls: type[M]) -> M:
    """An answer model (or its model_dump) as the message cls."""
    values = source.model_dump() if isinstance(source, BaseModel) else source
    message = cls()
    _fill(message, values)
    return message


def _fill(message: Message, values: Mapping[str, Any]) -> None:
    fields = message.DESCRIPTOR.fields_by_name
    names = set(fields)
    if set(values) != names:
        missing = sorted(names - set(values))
        extra = sorted(set(values) - names)
        raise ConversionError(
            f"{message.DESCRIPTOR.full_name}: no value for {missing}, no field for {extra}"
        )
    for name, value in values.items():
        if value is None:
            continue  # unset: the proto's way of saying null
        field = fields[name]
        if field.is_repeated:
            items = getattr(message, name)
            for item in value:
                if field.message_type is None:
                    items.append(_scalar(field, item))
                else:
                    _fill_message(items.add(), item)
        elif field.message_type is not None:
            _fill_message(getattr(message, name), value)
        else:
            setattr(message, name, _scalar(field, value))


def _fill_message(message: Message, value: Any) -> None:
    if isinstance(message, Timestamp):
        if not isinstance(value, datetime):
            raise ConversionError(f"expected a datetime for a Timestamp, got {value!r}")
        message.FromDatetime(value)
        return
    message.SetInParent()  # present even when every field inside is unset
    _fill(message, value)


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        return enum_number(field.enum_type, str(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
