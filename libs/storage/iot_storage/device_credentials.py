"""Device credentials: the broker password a device connects with, and how it is stored.

A device connects to RabbitMQ as its device id with a password of 32 random bytes (43 URL-safe
base64 characters), shown once at registration or rotation. Only its SHA-256 is stored, like
API keys (see migration 0006).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewCredential:
    """A fresh secret: show `secret` once, store `secret_hash`."""

    secret: str
    secret_hash: bytes


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, secret_hash: bytes) -> bool:
    """Whether secret hashes to secret_hash, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def generate_credential() -> NewCredential:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return NewCredential(secret=secret, secret_hash=hash_secret(secret))
