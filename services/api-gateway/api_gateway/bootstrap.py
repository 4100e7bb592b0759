"""The bootstrap admin key from IOT_BOOTSTRAP_ADMIN_KEY: made sure to exist, never resurrected."""

from __future__ import annotations

from typing import Any

from iot_storage.api_keys import hash_key, key_prefix, matches

from api_gateway import keys


class BootstrapKeyError(ValueError):
    """The configured key cannot serve as the bootstrap key."""


async def ensure_bootstrap_key(pool: Any, key: str, log: Any) -> None:
    prefix = key_prefix(key)  # MalformedKeyError (a ValueError) for a key of the wrong shape
    async with pool.acquire() as connection:
        await connection.execute(keys.BOOTSTRAP, prefix, hash_key(key))
        row = await connection.fetchrow(keys.BOOTSTRAP_STATE, prefix)
    if row is None or not matches(key, bytes(row["secret_hash"])):
        raise BootstrapKeyError(f"another key already uses the prefix {prefix!r}")
    if row["revoked_at"] is not None:
        # Revocation wins: restarting the gateway must not bring a revoked key back.
        log.warning("bootstrap admin key is revoked; not restoring it", prefix=prefix)
    elif row["role"] != "admin":
        raise BootstrapKeyError(f"key {prefix!r} exists with role {row['role']}, not admin")
    else:
        log.info("bootstrap admin key ready", prefix=prefix)
