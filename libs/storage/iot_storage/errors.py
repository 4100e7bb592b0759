"""Which database errors are worth retrying: outages are; bad data is not."""

from __future__ import annotations

import asyncpg

# Errors that say something about the data or the statement: retrying cannot help, so the
# message that caused them is dead-lettered instead.
_PERMANENT = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.SyntaxOrAccessError,
    ValueError,
    TypeError,
    OverflowError,
)
# Access errors that an operator fixes without changing the message (revoked CONNECT,
# missing grant): the data must wait for them, not be thrown away.
_TRANSIENT_ACCESS = (
    asyncpg.InsufficientPrivilegeError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,  # database missing (being restored or created)
    asyncpg.UndefinedTableError,  # migrations not applied yet
)


def is_transient(exc: BaseException) -> bool:
    """True when the same write may succeed later (connection lost, server down, locked out)."""
    if isinstance(exc, _TRANSIENT_ACCESS):
        return True
    return not isinstance(exc, _PERMANENT)
