"""`login`, `logout` and `whoami`: the stored key and who it belongs to."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from iotctl import config, output
from iotctl.client import ApiClient, api_path
from iotctl.errors import AuthError, UnavailableError, warn
from iotctl.state import State, normalize_url, output_option, pass_state, subcommand_api_url


@click.command()
@click.option(
    "--api-key-stdin",
    is_flag=True,
    help="Read the API key from standard input instead of prompting (for scripts).",
)
@subcommand_api_url
@output_option
@pass_state
def login(state: State, api_key_stdin: bool) -> None:
    """Verify an API key with the gateway and store it.

    Asks for the API URL (default: --api-url, IOT_API_URL, the stored URL or
    http://127.0.0.1:8080) and the key. With --api-key-stdin nothing is asked: the key is the
    first line of standard input and the URL is that default. Nothing is stored when the
    gateway refuses the key.
    """
    try:
        stored = state.stored()
    except AuthError as error:
        warn(f"{error.format_message()}; logging in replaces it")
        stored = config.StoredConfig()
    default_url = state.api_url_option or _valid_url_or_none(stored.api_url)
    default_url = default_url or config.DEFAULT_API_URL
    if api_key_stdin:
        url = default_url
        key = sys.stdin.readline().strip()
        if not key:
            raise click.UsageError("--api-key-stdin: standard input holds no API key")
    else:
        url = click.prompt("API URL", default=default_url, value_proc=_url_from_prompt)
        key = click.prompt("API key", hide_input=True).strip()
        if not key:
            raise click.UsageError("an empty API key")
    with ApiClient(url, key, unauthorized_hint="nothing was stored") as client:
        who = _whoami(client)
    config.save(state.config_file, config.StoredConfig(api_url=url, api_key=key))
    if os.environ.get("IOT_API_KEY"):
        warn("IOT_API_KEY is set; as long as it is, it is used instead of the stored key")
    if state.json:
        output.print_json(who)
        return
    expiry = (
        f", key expires {output.format_time(who['expires_at'])}" if who.get("expires_at") else ""
    )
    click.echo(f"Logged in to {url} as {who.get('name')} ({who.get('role')}){expiry}.")
    click.echo(f"Stored in {state.config_file}.")


@click.command()
@pass_state
def logout(state: State) -> None:
    """Remove the stored API key.

    The URL stays, as the next login's default. The key itself stays valid; revoke it with
    `iotctl api-keys revoke ID` if it should not be used again.
    """
    try:
        stored = state.stored()
    except AuthError as error:
        warn(f"{error.format_message()}; removing it")
        state.config_file.unlink(missing_ok=True)
        return
    if stored.api_key is None:
        click.echo("Not logged in; nothing to remove.")
    else:
        config.save(state.config_file, config.StoredConfig(api_url=stored.api_url))
        click.echo(f"Logged out: removed the API key from {state.config_file}.")
    if os.environ.get("IOT_API_KEY"):
        warn("IOT_API_KEY is still set in the environment, and iotctl will keep using it")


@click.command()
@output_option
@pass_state
def whoami(state: State) -> None:
    """Show whose API key is in use: name, role, expiry."""
    client = state.client()
    who = _whoami(client)
    if state.json:
        output.print_json(who)
        return
    click.echo(
        output.render_fields(
            [
                ("name", who.get("name")),
                ("role", who.get("role")),
                ("key prefix", who.get("prefix")),
                ("expires", output.format_time(who.get("expires_at"))),
                ("gateway", client.base_url),
            ]
        )
    )


def _whoami(client: ApiClient) -> dict[str, Any]:
    who = client.get(api_path("whoami"))
    if not isinstance(who, dict):
        raise UnavailableError(f"{client.base_url} answered /api/v1/whoami with no JSON object")
    return who


def _url_from_prompt(value: str) -> str:
    try:
        return normalize_url(value)
    except ValueError as error:
        # click.prompt shows a UsageError's message and asks again.
        raise click.UsageError(str(error)) from error


def _valid_url_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_url(value)
    except ValueError:
        return None
