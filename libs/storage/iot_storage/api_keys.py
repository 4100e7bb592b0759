"""API keys: their format, how they are hashed, and the statement that stores a new one.

A key reads ``iot_<prefix>_<secret>``: the 12-character prefix is a public handle (unique, shown
in listings and logs, used to find the row), the secret is 32 random bytes. Only the SHA-256 of
the whole key is stored; see migration 0005 for why a fast hash is enough for random keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

ROLES = ("admin", "operator", "viewer")
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY = re.compile(r"^iot_(?P<prefix>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")

INSERT_KEY = """
INSERT INTO api_keys (name, prefix, secret_hash, role, expires_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, created_at
"""


class MalformedKeyError(ValueError):
    """The text is not an API key of this platform."""


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: show `key` once, store `prefix` and `secret_hash`."""

    key: str
    prefix: str
    secret_hash: bytes


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_prefix(key: str) -> str:
    """The public prefix of a well-formed key; MalformedKeyError otherwise."""
    match = _KEY.match(key)
    if match is None:
        raise MalformedKeyError("malformed API key (expected iot_<12 characters>_<43 characters>)")
    return match["prefix"]


def matches(key: str, secret_hash: bytes) -> bool:
    """Whether key hashes to secret_hash, compared in constant time."""
    return hmac.compare_digest(hash_key(key), secret_hash)


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    key = f"iot_{prefix}_{secret}"
    return NewKey(key=key, prefix=prefix, secret_hash=hash_key(key))
