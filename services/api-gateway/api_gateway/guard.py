"""Turn infrastructure failures inside an operation into UnavailableError (503 / UNAVAILABLE).

Only failures that say "the database cannot serve us now" are translated; a bug still surfaces
as one, so it is found rather than disguised as an outage.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg

from api_gateway.errors import UnavailableError

P = ParamSpec("P")
R = TypeVar("R")

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InsufficientPrivilegeError,
    asyncpg.AdminShutdownError,
)


def translated(operation: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await operation(*args, **kwargs)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            # Lock order makes this rare; the caller may simply retry.
            raise UnavailableError("the database was busy with the same rows; retry") from None
        except asyncpg.QueryCanceledError:
            raise UnavailableError(
                "the query ran out of time: narrow the range or use a larger bucket"
            ) from None
        except _UNAVAILABLE as exc:
            raise UnavailableError(f"the database is unavailable ({type(exc).__name__})") from exc

    # Keeps the name and the required role (see auth.requires) visible on the wrapper.
    functools.update_wrapper(run, operation)
    return run
