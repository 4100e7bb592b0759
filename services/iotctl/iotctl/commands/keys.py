"""`api-keys list|create|revoke` (admin)."""

from __future__ import annotations

import click

from iotctl import output
from iotctl.client import api_path, expect_list, expect_object
from iotctl.errors import warn
from iotctl.state import State, output_option, pass_state


@click.group("api-keys")
def api_keys() -> None:
    """Manage API keys (admin)."""


@api_keys.command("list")
@output_option
@pass_state
def list_keys(state: State) -> None:
    """List every key, revoked ones included."""
    answer = expect_object(state.client().get(api_path("api-keys")), "the key list")
    found = expect_list(answer, "api_keys", "the key list")
    if state.json:
        output.print_json(answer)
        return
    if not found:
        click.echo("No API keys found.", err=True)
        return
    click.echo(
        output.render_table(
            ["id", "name", "role", "prefix", "created", "expires", "revoked", "last used"],
            [
                [
                    key.get("id"),
                    key.get("name"),
                    key.get("role"),
                    key.get("prefix"),
                    output.format_time(key.get("created_at")),
                    output.format_time(key.get("expires_at")),
                    output.format_time(key.get("revoked_at")),
                    output.ago(key.get("last_used_at")),
                ]
                for key in found
            ],
        )
    )


@api_keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="viewer reads; operator also sends commands and manages targets; admin does all.",
)
@click.option(
    "--expires-in-days", type=click.IntRange(min=1), help="Lifetime in days [default: never]."
)
@output_option
@pass_state
def create(state: State, name: str, role: str, expires_in_days: int | None) -> None:
    """Create a key and print it: it is shown this once only."""
    body: dict[str, object] = {"name": name, "role": role}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    created = expect_object(
        state.client().request("POST", api_path("api-keys"), body=body), "the new key"
    )
    if state.json:
        output.print_json(created)
        return
    click.echo(
        output.render_fields(
            [
                ("id", created.get("id")),
                ("name", created.get("name")),
                ("role", created.get("role")),
                ("prefix", created.get("prefix")),
                ("created", output.format_time(created.get("created_at"))),
                ("expires", output.format_time(created.get("expires_at"))),
                ("key", created.get("key")),
            ]
        )
    )
    warn("the key is shown only this once; store it now")


@api_keys.command("revoke")
@click.argument("key_id", metavar="ID")
@output_option
@pass_state
def revoke(state: State, key_id: str) -> None:
    """Revoke a key at once (its record stays)."""
    state.client().request("DELETE", api_path("api-keys", key_id))
    if not state.json:  # 204: the API has no document to print
        click.echo(f"Revoked API key {key_id}.")
