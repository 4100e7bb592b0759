"""`projects list|create` and `groups list|create`: where devices are registered.

A project holds device groups; a group is what `iotctl join` addresses. Both ids are words of
the broker's routing keys, so the gateway checks their spelling (lower-case letters, digits and
dashes) and answers 422 for anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from iotctl import output
from iotctl.client import api_path, expect_list, expect_object
from iotctl.state import State, output_option, pass_state

project_option = click.option("--project", required=True, help="The project's id.")


@click.group("projects")
def projects() -> None:
    """Manage projects (create: admin)."""


@projects.command("list")
@output_option
@pass_state
def list_projects(state: State) -> None:
    """List every project with its number of groups and devices."""
    answer = expect_object(state.client().get(api_path("projects")), "the project list")
    found = expect_list(answer, "projects", "the project list")
    if state.json:
        output.print_json(answer)
    elif not found:
        click.echo("No projects found.", err=True)
    else:
        click.echo(_project_table(found))


@projects.command("create")
@click.argument("project_id", metavar="ID")
@click.option("--name", required=True, help="A readable name, e.g. 'Lab building 1'.")
@output_option
@pass_state
def create_project(state: State, project_id: str, name: str) -> None:
    """Create a project; ID is lower-case letters, digits and dashes (e.g. lab-1)."""
    project = expect_object(
        state.client().request("POST", api_path("projects"), body={"id": project_id, "name": name}),
        "the new project",
    )
    if state.json:
        output.print_json(project)
    else:
        click.echo(_project_table([project]))


@click.group("groups")
def groups() -> None:
    """Manage a project's device groups (create: admin)."""


@groups.command("list")
@project_option
@output_option
@pass_state
def list_groups(state: State, project: str) -> None:
    """List a project's groups with their devices and how many are online."""
    answer = expect_object(
        state.client().get(api_path("projects", project, "groups")), "the group list"
    )
    found = expect_list(answer, "groups", "the group list")
    if state.json:
        output.print_json(answer)
    elif not found:
        click.echo(f"No groups in project {project}.", err=True)
    else:
        click.echo(_group_table(found))


@groups.command("create")
@project_option
@click.argument("name")
@click.option("--comments", help="Free text: what the group is for, where its devices are.")
@output_option
@pass_state
def create_group(state: State, project: str, name: str, comments: str | None) -> None:
    """Create the group NAME in a project (lower-case letters, digits and dashes)."""
    body: dict[str, object] = {"name": name}
    if comments is not None:
        body["comments"] = comments
    group = expect_object(
        state.client().request("POST", api_path("projects", project, "groups"), body=body),
        "the new group",
    )
    if state.json:
        output.print_json(group)
    else:
        click.echo(_group_table([group]))


def _project_table(found: Sequence[dict[str, Any]]) -> str:
    # A new project's answer has no counts; its cells show as `-`.
    return output.render_table(
        ["id", "name", "groups", "devices", "created"],
        [
            [
                project.get("id"),
                project.get("name"),
                project.get("groups"),
                project.get("devices"),
                output.format_time(project.get("created_at")),
            ]
            for project in found
        ],
        right=[2, 3],
    )


def _group_table(found: Sequence[dict[str, Any]]) -> str:
    return output.render_table(
        ["project", "group", "devices", "online", "created", "comments"],
        [
            [
                group.get("project"),
                group.get("name"),
                group.get("devices"),
                group.get("online"),
                output.format_time(group.get("created_at")),
                output.short_text(group.get("comments")),
            ]
            for group in found
        ],
        right=[2, 3],
    )
