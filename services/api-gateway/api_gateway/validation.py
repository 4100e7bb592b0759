"""Pydantic validation errors as the one-line message both transports answer with.

HTTP sends it as `{"detail": ...}` with 422, gRPC as the message of INVALID_ARGUMENT; keeping
one spelling means a client sees the same words for the same mistake on either.
"""

from __future__ import annotations

from typing import Any


def describe_validation(errors: Any) -> str:
    """Pydantic's error list as one line: 'body.ttl_seconds: Input should be ... ; ...'."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"
