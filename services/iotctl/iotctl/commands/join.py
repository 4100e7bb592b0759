"""`join` (make a group's devices join a session) and `join-requests list|get`.

`join` posts one join request; the join-dispatcher sends a JOIN to every unrevoked device of
the group, and each device answers joined or failed before the deadline (or is counted
expired). `--wait` follows the answers; see `iotctl.joining`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from iotctl import joining, output
from iotctl.client import api_path, expect_list, expect_object
from iotctl.commands.projects import project_option
from iotctl.errors import UnavailableError, warn
from iotctl.params import Deadline, JsonObject
from iotctl.state import State, output_option, pass_state

DEFAULT_DEADLINE = "60s"


@click.command("join")
@project_option
@click.option("--group", required=True, help="The group whose devices join.")
@click.option("--session", "session_id", required=True, help="The session's id.")
@click.option(
    "--session-name", help="The session's name, the room the devices join [default: --session]."
)
@click.option(
    "--metadata",
    type=JsonObject(),
    help='Session metadata for the devices, a JSON object: \'{"topic": "demo"}\' [default: {}].',
)
@click.option(
    "--deadline",
    type=Deadline(),
    default=DEFAULT_DEADLINE,
    show_default=True,
    help="Devices must answer by then: a duration from now (60s, 5m, 2h) or an RFC 3339 time.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Show the devices' answers as they come; exit 0 only if every device joined.",
)
@output_option
@pass_state
def join(  # noqa: PLR0917 (click passes every option as an argument)
    state: State,
    project: str,
    group: str,
    session_id: str,
    session_name: str | None,
    metadata: dict[str, Any] | None,
    deadline: str,
    wait: bool,
) -> None:
    """Make a group's devices join a session (operator).

    Without --wait, prints the join request's id and deadline. With --wait, shows the devices'
    answers on standard error until all answered or the deadline closed the request, then one
    row per device; exits 5 unless every device joined.
    """
    body = {
        "project": project,
        "group": group,
        "session_id": session_id,
        "session_name": session_name or session_id,
        "session_metadata": metadata or {},
        "deadline": deadline,
    }
    client = state.client()
    accepted = expect_object(
        client.request(
            "POST",
            api_path("join-requests"),
            body=body,
            unavailable="the gateway could not hand the join request over",
        ),
        "the join request",
    )
    request_id = accepted.get("join_request_id")
    if not isinstance(request_id, str) or not request_id:
        raise UnavailableError("the gateway's answer for the join request has no join_request_id")
    if not wait:
        if state.json:
            output.print_json(accepted)
        else:
            click.echo(
                output.render_fields(
                    [
                        ("join request id", request_id),
                        ("deadline", output.format_time(accepted.get("deadline"))),
                    ]
                )
            )
        return
    result = joining.wait_for_join(
        client, request_id, accepted.get("deadline"), joining.make_progress()
    )
    _show_outcome(state, result, with_fields=False)


@click.group("join-requests")
def join_requests() -> None:
    """Follow join requests already sent."""


@join_requests.command("list")
@project_option
@click.option("--group", help="Only this group's requests.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), help="At most this many, newest first [default: 20]."
)
@output_option
@pass_state
def list_requests(state: State, project: str, group: str | None, limit: int | None) -> None:
    """List a project's join requests, newest first, with their counts."""
    params = {"project": project, "group": group, "limit": limit}
    answer = expect_object(
        state.client().get(api_path("join-requests"), params), "the join request list"
    )
    found = expect_list(answer, "join_requests", "the join request list")
    if state.json:
        output.print_json(answer)
    elif not found:
        click.echo("No join requests found.", err=True)
    else:
        click.echo(_request_table(found))


@join_requests.command("get")
@click.argument("request_id", metavar="ID")
@click.option(
    "--wait",
    is_flag=True,
    help="Wait until every device answered or the request closed; exit 0 only if all joined.",
)
@output_option
@pass_state
def get_request(state: State, request_id: str, wait: bool) -> None:
    """Show a join request and each device's answer."""
    client = state.client()
    request = expect_object(client.get(api_path("join-requests", request_id)), "the join request")
    if not wait:
        if state.json:
            output.print_json(request)
        else:
            _print_request(request)
        return
    result = joining.wait_for_join(
        client, request_id, request.get("deadline"), joining.make_progress(), latest=request
    )
    _show_outcome(state, result, with_fields=True)


def _show_outcome(state: State, result: joining.JoinWaitResult, *, with_fields: bool) -> None:
    """Print the request as last polled, then fail (exit 5) unless every device joined."""
    request = result.request
    if request is not None:
        if state.json:
            output.print_json(request)
        elif with_fields:
            _print_request(request)
        elif joining.devices(request):
            click.echo(joining.device_table(request))
        nobody = joining.is_settled(request) and joining.counts(request)["targeted"] == 0
        if nobody and request.get("status") != "failed":
            warn("the group has no device that is not revoked; no device was asked to join")
    joining.check_outcome(result)


def _print_request(request: dict[str, Any]) -> None:
    metadata = request.get("session_metadata")
    click.echo(
        output.render_fields(
            [
                ("join request id", request.get("join_request_id")),
                ("project", request.get("project")),
                ("group", request.get("group")),
                ("session id", request.get("session_id")),
                ("session name", request.get("session_name")),
                ("metadata", json.dumps(metadata, ensure_ascii=False) if metadata else None),
                ("status", request.get("status")),
                ("requested by", request.get("requested_by")),
                ("requested", output.format_time(request.get("requested_at"))),
                ("deadline", output.format_time(request.get("deadline"))),
                ("dispatched", output.format_time(request.get("dispatched_at"))),
                ("closed", output.format_time(request.get("closed_at"))),
                ("targeted", joining.counts(request)["targeted"]),
                ("answers", joining.summary(request, separator=", ")),
            ]
        )
    )
    if joining.devices(request):
        click.echo()
        click.echo(joining.device_table(request))


def _request_table(found: Sequence[dict[str, Any]]) -> str:
    rows = []
    for request in found:
        numbers = joining.counts(request)
        rows.append(
            [
                request.get("join_request_id"),
                request.get("group"),
                request.get("session_id"),
                request.get("status"),
                numbers["targeted"],
                numbers["joined"],
                numbers["failed"],
                numbers["expired"],
                output.format_time(request.get("requested_at")),
                output.format_time(request.get("deadline")),
            ]
        )
    return output.render_table(
        [
            "id",
            "group",
            "session",
            "status",
            "targeted",
            "joined",
            "failed",
            "expired",
            "requested",
            "deadline",
        ],
        rows,
        right=[4, 5, 6, 7],
    )
