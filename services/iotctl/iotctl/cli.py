"""The `iotctl` root command: global options, subcommands, and one exit code per failure class.

Exit codes (README, "Exit codes"): 0 done; 1 the API refused the request (a 4xx other than
401/403) or a confirmation was declined; 2 usage error; 3 not logged in, an unreadable
configuration, 401 or 403; 4 the gateway is unreachable, timed out, failed (5xx, 503) or sent
nonsense; 5 a waited-for command was not applied, a device of a waited-for join did not join,
or the wait timed out; 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from iotctl import version
from iotctl.commands import (
    completion,
    control,
    data,
    devices,
    join,
    keys,
    projects,
    sensors,
    session,
    targets,
)
from iotctl.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from iotctl.state import OUTPUTS, State, normalize_url


class RootGroup(click.Group):
    """A group whose `main` prints every expected failure as one line with its exit code.

    click's standalone mode would print `Error: ...` and exit 1 for Ctrl-C; running the
    command in non-standalone mode and handling the outcome here gives iotctl's own format
    and codes, and CliRunner tests exercise exactly what users get.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        prog_name = prog_name or "iotctl"
        if not standalone_mode:
            return super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort as error:
            if isinstance(error.__context__, EOFError):
                click.echo("iotctl: error: no answer to a prompt (end of input)", err=True)
                sys.exit(EXIT_USAGE)
            click.echo("iotctl: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        # Non-standalone click returns the exit code of --help/--version, else our None.
        sys.exit(result if isinstance(result, int) else EXIT_OK)


def _api_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_url(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"iotctl {version()}")
        ctx.exit()


@click.group("iotctl", cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api-url",
    envvar="IOT_API_URL",
    callback=_api_url,
    help="The api-gateway, e.g. http://127.0.0.1:8080 (env IOT_API_URL; overrides the stored URL).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUTS),
    default="table",
    show_default=True,
    help="table for people, json for scripts (the API's JSON, one document).",
)
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, api_url: str | None, output: str) -> None:
    """Operate the IoT telemetry platform through its api-gateway.

    Log in once with `iotctl login`; IOT_API_KEY, when set, is used instead of the stored key.
    """
    ctx.obj = State(api_url_option=api_url, output=output)


for command in (
    session.login,
    session.logout,
    session.whoami,
    sensors.get,
    sensors.delete,
    control.sleep,
    control.awake,
    control.change_sample_frequency,
    control.commands,
    targets.targets,
    data.measurements,
    data.logs,
    keys.api_keys,
    projects.projects,
    projects.groups,
    devices.devices,
    join.join,
    join.join_requests,
    completion.completion,
):
    cli.add_command(command)
