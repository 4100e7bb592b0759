"""Projects and device groups: the SQL behind them and the rows as API models.

Counts leave revoked devices out. A device is online when it answered (a pong or a join
acknowledgement) within the offline window, $2 seconds, by the server's clock.
"""

from __future__ import annotations

from typing import Any

from api_gateway.fleet.models import Group, Project, ProjectSummary

INSERT_PROJECT = "INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING id, name, created_at"
ONE_PROJECT = "SELECT id, name, created_at FROM projects WHERE id = $1"
PROJECT_EXISTS = "SELECT true FROM projects WHERE id = $1"
LIST_PROJECTS = """
SELECT p.id, p.name, p.created_at,
       (SELECT count(*) FROM device_groups g WHERE g.project_id = p.id) AS groups,
       (SELECT count(*) FROM devices d WHERE d.project_id = p.id AND d.revoked_at IS NULL)
           AS devices
FROM projects p
ORDER BY p.id
"""

INSERT_GROUP = """
INSERT INTO device_groups (project_id, name, comments) VALUES ($1, $2, $3)
RETURNING project_id AS project, name, comments, created_at, 0::bigint AS devices,
          0::bigint AS online
"""
GROUP_EXISTS = "SELECT true FROM device_groups WHERE project_id = $1 AND name = $2"
# The partial index devices_group_idx covers the join (unrevoked devices of a group).
GROUPS = """
SELECT g.project_id AS project, g.name, g.comments, g.created_at,
       count(d.id) AS devices,
       count(d.id) FILTER (WHERE d.last_seen_at >= now() - $2 * interval '1 second') AS online
FROM device_groups g
LEFT JOIN devices d
       ON d.project_id = g.project_id AND d.group_name = g.name AND d.revoked_at IS NULL
WHERE g.project_id = $1
GROUP BY g.project_id, g.name
ORDER BY g.name
"""


def to_project(row: Any) -> Project:
    return Project(id=row["id"], name=row["name"], created_at=row["created_at"])


def to_summary(row: Any) -> ProjectSummary:
    # LIST_PROJECTS names its columns after the model's fields.
    return ProjectSummary(**dict(row))


def to_group(row: Any) -> Group:
    # The group queries name their columns after the model's fields.
    return Group(**dict(row))
