"""Devices: the SQL behind registration, listing, rotation and revocation, and rows as models.

Every query takes the offline window in seconds as $1, so `online` is computed in one place:
not revoked, and answered within the window by the server's clock.
"""

from __future__ import annotations

from typing import Any

from api_gateway.fleet.models import Device

_COLUMNS = """
    d.id, d.project_id AS project, d.group_name AS "group", d.name, d.comments, d.registered_at,
    d.credential_rotated_at, d.revoked_at, d.last_seen_at,
    coalesce(d.revoked_at IS NULL AND d.last_seen_at >= now() - $1 * interval '1 second', false)
        AS online
"""

# The unique constraints an insert can hit: a random id drawn twice (draw again) or a name
# the project has already (the caller's conflict).
ID_CONSTRAINT = "devices_pkey"
INSERT = f"""
INSERT INTO devices AS d (id, project_id, group_name, name, comments, secret_hash)
VALUES ($2, $3, $4, $5, $6, $7)
RETURNING {_COLUMNS}
"""
ONE = f"SELECT {_COLUMNS} FROM devices d WHERE d.id = $2"
LIST = f"""
SELECT {_COLUMNS} FROM devices d
WHERE d.project_id = $2
  AND ($3::text IS NULL OR d.group_name = $3)
  AND ($4 OR d.revoked_at IS NULL)
ORDER BY d.group_name, d.name
"""
# A revoked device keeps its revocation time; the statement is the same for a repeated call.
REVOKE = f"""
UPDATE devices d SET revoked_at = coalesce(d.revoked_at, now()) WHERE d.id = $2
RETURNING {_COLUMNS}
"""
# Only an unrevoked device gets a new credential; no row back means unknown or revoked.
ROTATE = f"""
UPDATE devices d SET secret_hash = $3, credential_rotated_at = now()
WHERE d.id = $2 AND d.revoked_at IS NULL
RETURNING {_COLUMNS}
"""


def to_device(row: Any) -> Device:
    # The queries name their columns after the model's fields.
    return Device(**dict(row))
