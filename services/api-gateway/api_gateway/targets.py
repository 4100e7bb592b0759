"""Targets: what sensors are attached to (a pump, a bridge), with an optional location."""

from __future__ import annotations

from typing import Any

from api_gateway.models import Target

_SELECT = """
SELECT t.name, t.latitude, t.longitude, t.created_at,
       (SELECT count(*) FROM sensors s WHERE s.target_id = t.id) AS sensor_count
FROM targets t
"""
LIST = _SELECT + "ORDER BY t.name"
ONE = _SELECT + "WHERE t.name = $1"
CREATE = """
INSERT INTO targets (name, latitude, longitude) VALUES ($1, $2, $3)
RETURNING name, latitude, longitude, created_at, 0::bigint AS sensor_count
"""
# The foreign key unassigns the target's sensors (ON DELETE SET NULL).
DELETE = "DELETE FROM targets WHERE name = $1 RETURNING id"
EXISTS = "SELECT true FROM targets WHERE name = $1"


def to_target(row: Any) -> Target:
    # The queries name their columns after the model's fields.
    return Target(**dict(row))
