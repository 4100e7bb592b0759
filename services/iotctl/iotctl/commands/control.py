"""`sleep`, `awake`, `change-sample-frequency` and `commands status`: commands and their fate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from iotctl import output
from iotctl.client import api_path, expect_list, expect_object
from iotctl.errors import warn
from iotctl.params import Frequency, selector
from iotctl.state import State, output_option, pass_state
from iotctl.waiting import (
    DEFAULT_TIMEOUT_SECONDS,
    check_outcome,
    is_final,
    make_progress,
    wait_for,
)

F = TypeVar("F", bound=Callable[..., Any])


def _selector_options(function: F) -> F:
    function = click.option("--all", "all_sensors", is_flag=True, help="Every sensor.")(function)
    function = click.option("--target", help="Every sensor assigned to this target.")(function)
    return click.option("-s", "--serial", help="One sensor, by serial number.")(function)


def _wait_options(function: F) -> F:
    function = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        help=f"With --wait: give up after this many seconds [default: {DEFAULT_TIMEOUT_SECONDS:g}]",
    )(function)
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait until every command is final; exit 0 only if all were applied.",
    )(function)


def _send_options(function: F) -> F:
    function = _wait_options(function)
    return click.option(
        "--ttl",
        type=click.IntRange(1, 86400),
        help="Seconds the command may wait for its sensor before it expires [gateway default].",
    )(function)


def _state_command(action: str, summary: str) -> click.Command:
    """`sleep` and `awake`: the same options, a different action."""

    @click.command(action, help=summary)
    @_selector_options
    @_send_options
    @output_option
    @pass_state
    def command(  # noqa: PLR0917 (click passes every option as an argument)
        state: State,
        serial: str | None,
        target: str | None,
        all_sensors: bool,
        ttl: int | None,
        wait: bool,
        timeout: float | None,
    ) -> None:
        body = {"action": action, **selector(serial, target, all_sensors)}
        _send(state, body, ttl, wait, timeout)

    return command


sleep = _state_command("sleep", "Put sensors to sleep (they stop sampling).")
awake = _state_command("awake", "Wake sensors up (they resume sampling).")


@click.command("change-sample-frequency")
@_selector_options
@click.option("-f", "--frequency", type=Frequency(), required=True, help="The new rate in Hz.")
@_send_options
@output_option
@pass_state
def change_sample_frequency(  # noqa: PLR0917 (click passes every option as an argument)
    state: State,
    serial: str | None,
    target: str | None,
    all_sensors: bool,
    frequency: float,
    ttl: int | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Change the sample frequency of sensors.

    The gateway refuses rates above its maximum (IOT_MAX_SAMPLE_FREQUENCY_HZ).
    """
    body = {
        "action": "change_sample_frequency",
        "sample_frequency_hz": frequency,
        **selector(serial, target, all_sensors),
    }
    _send(state, body, ttl, wait, timeout)


@click.group("commands")
def commands() -> None:
    """Follow commands already sent."""


@commands.command("status")
@click.argument("command_id", metavar="ID")
@_wait_options
@output_option
@pass_state
def status(state: State, command_id: str, wait: bool, timeout: float | None) -> None:
    """Show a command's status; with --wait, wait until it is final."""
    timeout = _timeout(wait, timeout)
    client = state.client()
    command = expect_object(client.get(api_path("commands", command_id)), "the command")
    result = None
    if wait:
        result = wait_for(client, [command], timeout, make_progress(1))
        command = result.commands[0]
    if state.json:
        output.print_json(command)
    else:
        click.echo(output.render_fields(command_fields(command)))
    if result is not None:
        check_outcome(result, timeout)


def _send(
    state: State, body: dict[str, object], ttl: int | None, wait: bool, timeout: float | None
) -> None:
    timeout = _timeout(wait, timeout)
    if ttl is not None:
        body["ttl_seconds"] = ttl
    client = state.client()
    answer = expect_object(
        client.request(
            "POST",
            api_path("commands"),
            body=body,
            unavailable="the gateway could not publish the command",
        ),
        "the command request",
    )
    sent = expect_list(answer, "commands", "the command request")
    if not sent:
        warn("no sensor matched; nothing was sent")
    result = None
    if wait and sent:
        result = wait_for(client, sent, timeout, make_progress(len(sent)))
        # The API's document, with each command as it was last seen.
        answer = {**answer, "commands": result.commands}
    if state.json:
        output.print_json(answer)
    elif sent:
        click.echo(command_table(answer["commands"]))
    if result is not None:
        check_outcome(result, timeout)


def _timeout(wait: bool, timeout: float | None) -> float:
    if timeout is not None and not wait:
        raise click.UsageError("--timeout only applies with --wait")
    return DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout


def command_table(commands: Sequence[dict[str, Any]]) -> str:
    """SERIAL, COMMAND ID, STATUS (and REASON when a command has one)."""
    headers = ["serial", "command id", "status"]
    with_reason = any(command.get("reason") for command in commands)
    rows = [
        [command.get("serial_number"), command.get("command_id"), command.get("status")]
        + ([command.get("reason")] if with_reason else [])
        for command in commands
    ]
    return output.render_table(headers + (["reason"] if with_reason else []), rows)


def command_fields(command: dict[str, Any]) -> list[tuple[str, object]]:
    """One command, field by field, for `commands status`."""
    reported = command.get("reported")
    reported_text = None
    if isinstance(reported, dict):
        reported_text = (
            f"asleep {output.cell(reported.get('asleep'))}, "
            f"sample Hz {output.cell(reported.get('sample_frequency_hz'))}"
        )
    return [
        ("command id", command.get("command_id")),
        ("request id", command.get("request_id")),
        ("serial number", command.get("serial_number")),
        ("action", command.get("action")),
        ("sample Hz", command.get("sample_frequency_hz")),
        ("status", f"{command.get('status')}{'' if is_final(command) else ' (not final)'}"),
        ("reason", command.get("reason")),
        ("issued by", command.get("issued_by")),
        ("issued", output.format_time(command.get("issued_at"))),
        ("expires", output.format_time(command.get("expires_at"))),
        ("delivered", output.format_time(command.get("delivered_at"))),
        ("completed", output.format_time(command.get("completed_at"))),
        ("reported", reported_text),
    ]
