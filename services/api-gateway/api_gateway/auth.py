"""Who is calling (API keys) and what they may do (roles), for every transport alike.

Authorisation is deny-by-default: each public operation of the service layer is wrapped in
`requires(role)`, and a test checks that none is missing; an operation without it cannot be
called by anyone.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from iot_storage.api_keys import MalformedKeyError, key_prefix, matches

from api_gateway.errors import PermissionDeniedError, UnauthenticatedError
from api_gateway.guard import translated
from api_gateway.models import Role

P = ParamSpec("P")
R = TypeVar("R")
REQUIRED_ROLE = "__required_role__"

# Touching last_used_at at most once a minute keeps reads from turning into writes, and the
# lookup says whether it is due, so most requests cost one statement.
_LOOKUP = """
SELECT id, name, role, prefix, secret_hash, expires_at, revoked_at,
       expires_at IS NOT NULL AND expires_at <= now() AS expired,
       last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS touch_due
FROM api_keys WHERE prefix = $1
"""
_TOUCH = "UPDATE api_keys SET last_used_at = now() WHERE id = $1"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    key_id: int
    name: str
    role: Role
    prefix: str
    expires_at: datetime | None

    def allows(self, role: Role) -> bool:
        return self.role.rank >= role.rank


def bearer_token(header: str | None) -> str:
    """The key from an `Authorization: Bearer <key>` header value."""
    if not header:
        raise UnauthenticatedError("missing Authorization header (expected 'Bearer <api key>')")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("malformed Authorization header (expected 'Bearer <api key>')")
    return token.strip()


async def authenticate(pool: Any, key: str) -> Principal:
    """The principal a key stands for; UnauthenticatedError unless it is valid now."""
    try:
        prefix = key_prefix(key)
    except MalformedKeyError as exc:
        raise UnauthenticatedError(str(exc)) from None
    async with pool.acquire() as connection:
        row = await connection.fetchrow(_LOOKUP, prefix)
        if row is None or not matches(key, bytes(row["secret_hash"])):
            raise UnauthenticatedError("unknown API key")
        if row["revoked_at"] is not None:
            raise UnauthenticatedError("API key revoked")
        if row["expired"]:
            raise UnauthenticatedError("API key expired")
        if row["touch_due"]:
            await connection.execute(_TOUCH, row["id"])
    return Principal(row["id"], row["name"], Role(row["role"]), row["prefix"], row["expires_at"])


def requires(
    role: Role,
) -> Callable[
    [Callable[Concatenate[Any, Principal, P], Awaitable[R]]],
    Callable[Concatenate[Any, Principal, P], Awaitable[R]],
]:
    """Let an operation run only for principals with at least `role`."""

    def decorate(
        operation: Callable[Concatenate[Any, Principal, P], Awaitable[R]],
    ) -> Callable[Concatenate[Any, Principal, P], Awaitable[R]]:
        async def guarded(
            self: Any, principal: Principal, /, *args: P.args, **kwargs: P.kwargs
        ) -> R:
            if not principal.allows(role):
                what = operation.__name__.replace("_", " ")
                raise PermissionDeniedError(
                    f"role {principal.role.value} may not {what} (needs {role.value})"
                )
            return await operation(self, principal, *args, **kwargs)

        functools.update_wrapper(guarded, operation)
        setattr(guarded, REQUIRED_ROLE, role)
        return translated(guarded)

    return decorate
