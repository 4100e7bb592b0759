"""RabbitMQ's questions as it sends them with `auth_http.http_method = post`: small URL-encoded
forms. Read strictly: a body that is too large, not a form, not UTF-8, repeats a field or lacks
one is no question at all, and the endpoints deny it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# RabbitMQ's largest question (topic: user, vhost, exchange, routing key, tags, variable map)
# is a few hundred bytes; names are at most 255 bytes each.
MAX_BODY_BYTES = 8192
MAX_FIELDS = 32


class MalformedRequestError(ValueError):
    """A request that is not a well-formed question; the message says why (no field values)."""


async def read_body(content_length: str | None, chunks: AsyncIterator[bytes]) -> bytes:
    """The request body, refused beyond MAX_BODY_BYTES whatever Content-Length claims."""
    if content_length is not None and not (
        content_length.isascii()
        and content_length.isdigit()
        and int(content_length) <= MAX_BODY_BYTES
    ):
        raise MalformedRequestError("body too large")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise MalformedRequestError("body too large")
    return bytes(body)


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form's fields; MalformedRequestError unless it is a plain, unambiguous form."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise MalformedRequestError(f"content type {media_type or 'missing'}, not a form")
    try:
        # A form is ASCII on the wire; percent-escapes must decode as UTF-8.
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError included
        raise MalformedRequestError("not a URL-encoded form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # Which one would RabbitMQ have meant? Refuse to guess.
            raise MalformedRequestError(f"field {name!r} repeated")
        form[name] = value
    return form


def fields(form: dict[str, str], *names: str) -> tuple[str, ...]:
    """The values of the named fields, in order; MalformedRequestError if one is missing."""
    missing = [name for name in names if name not in form]
    if missing:
        raise MalformedRequestError("missing " + ", ".join(missing))
    return tuple(form[name] for name in names)
