"""API key administration: listing and revoking (creation SQL is shared with iot-db)."""

from __future__ import annotations

from typing import Any

from api_gateway.models import ApiKeyInfo

LIST = """
SELECT id, name, role, prefix, created_at, expires_at, revoked_at, last_used_at
FROM api_keys ORDER BY id
"""
REVOKE = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id
"""
# The bootstrap key: created once; a revoked one stays revoked.
BOOTSTRAP = """
INSERT INTO api_keys (name, prefix, secret_hash, role) VALUES ('bootstrap', $1, $2, 'admin')
ON CONFLICT (prefix) DO NOTHING
"""
BOOTSTRAP_STATE = "SELECT secret_hash, role, revoked_at FROM api_keys WHERE prefix = $1"


def to_info(row: Any) -> ApiKeyInfo:
    # LIST names its columns after the model's fields.
    return ApiKeyInfo(**dict(row))
