"""`devices register|list|get|revoke|rotate-credential`: devices and their broker credentials.

A device connects to RabbitMQ as its own user: its id, and a secret the gateway shows exactly
once, at registration and at each rotation (it keeps only a hash). iotctl prints the secret
once as well and never stores it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from iotctl import output
from iotctl.client import ApiClient, api_path, expect_list, expect_object
from iotctl.commands.projects import project_option
from iotctl.errors import RefusedError, UnavailableError, warn
from iotctl.state import State, output_option, pass_state

yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


@click.group("devices")
def devices() -> None:
    """Register, list and revoke devices.

    register, revoke and rotate-credential need an admin key.
    """


@devices.command("register")
@project_option
@click.option("--group", required=True, help="The device's group (it must exist).")
@click.option("--name", required=True, help="A name unique in the project, e.g. cam-lab-1.")
@click.option("--comments", help="Free text: where the device is, who looks after it.")
@output_option
@pass_state
def register(state: State, project: str, group: str, name: str, comments: str | None) -> None:
    """Register a device (admin); prints its credential once.

    The credential (broker user name and password) is shown this once only: the gateway keeps
    just a hash of the password.
    """
    body: dict[str, object] = {"name": name, "group": group}
    if comments is not None:
        body["comments"] = comments
    registered = expect_object(
        state.client().request("POST", api_path("projects", project, "devices"), body=body),
        "the new device",
    )
    _print_with_credential(state, registered)


@devices.command("list")
@project_option
@click.option("--group", help="Only this group's devices.")
@click.option("--include-revoked", is_flag=True, help="Also the revoked devices.")
@output_option
@pass_state
def list_devices(state: State, project: str, group: str | None, include_revoked: bool) -> None:
    """List a project's devices with their presence.

    One row each: id, name, group, online, last seen, registered, revoked.
    """
    params = {"group": group, "include_revoked": True if include_revoked else None}
    answer = expect_object(
        state.client().get(api_path("projects", project, "devices"), params), "the device list"
    )
    found = expect_list(answer, "devices", "the device list")
    if state.json:
        output.print_json(answer)
        return
    if not found:
        where = f"group {group} of project {project}" if group else f"project {project}"
        click.echo(f"No devices in {where}.", err=True)
        return
    now = datetime.now(UTC)
    click.echo(
        output.render_table(
            ["id", "name", "group", "online", "last seen", "registered", "revoked"],
            [
                [
                    device.get("id"),
                    device.get("name"),
                    device.get("group"),
                    device.get("online"),
                    output.ago(device.get("last_seen_at"), now),
                    output.format_time(device.get("registered_at")),
                    output.format_time(device.get("revoked_at")),
                ]
                for device in found
            ],
        )
    )


@devices.command("get")
@click.argument("device_id", metavar="DEVICE_ID")
@output_option
@pass_state
def get_device(state: State, device_id: str) -> None:
    """Show one device with its presence."""
    device = _get(state.client(), device_id)
    if state.json:
        output.print_json(device)
    else:
        click.echo(output.render_fields(device_fields(device)))


@devices.command("revoke")
@click.argument("device_id", metavar="DEVICE_ID")
@yes_option
@output_option
@pass_state
def revoke(state: State, device_id: str, yes: bool) -> None:
    """Revoke a device (admin).

    The broker refuses its credential from now on; its queue and the messages waiting in it are
    deleted; its record and join history stay. Asks first unless --yes. Revoking a revoked
    device changes nothing.
    """
    client = state.client()
    if not yes:
        device = _get(client, device_id)
        # Nothing is lost by revoking again, so there is nothing to confirm.
        if device.get("revoked_at") is None and not click.confirm(
            f"Revoke device {_describe(device)}? It can no longer connect, and its queue "
            "and the messages waiting in it are deleted.",
            default=False,
        ):
            raise RefusedError("not confirmed; nothing was revoked")
    revoked = expect_object(
        client.request("POST", api_path("devices", device_id, "revoke")), "the revoked device"
    )
    if state.json:
        output.print_json(revoked)
    else:
        click.echo(
            f"Revoked device {_describe(revoked)} at "
            f"{output.format_time(revoked.get('revoked_at')) or 'an unknown time'}."
        )


@devices.command("rotate-credential")
@click.argument("device_id", metavar="DEVICE_ID")
@yes_option
@output_option
@pass_state
def rotate_credential(state: State, device_id: str, yes: bool) -> None:
    """Give a device a new password (admin).

    The current password stops working. Prints the new credential, shown this once only.
    Asks first unless --yes.
    """
    client = state.client()
    if not yes:
        device = _get(client, device_id)
        # A revoked device's rotation is refused by the gateway (409), whose answer says so;
        # asking first would only delay that.
        if device.get("revoked_at") is None and not click.confirm(
            f"Rotate the credential of device {_describe(device)}? Its current password "
            "stops working; the device needs the new one to connect.",
            default=False,
        ):
            raise RefusedError("not confirmed; the credential is unchanged")
    rotated = expect_object(
        client.request("POST", api_path("devices", device_id, "rotate-credential")),
        "the new credential",
    )
    _print_with_credential(state, rotated)


def device_fields(device: dict[str, Any]) -> list[tuple[str, object]]:
    """One device, field by field."""
    return [
        ("id", device.get("id")),
        ("name", device.get("name")),
        ("project", device.get("project")),
        ("group", device.get("group")),
        ("comments", device.get("comments") or None),
        ("online", device.get("online")),
        ("last seen", output.time_and_ago(device.get("last_seen_at"))),
        ("registered", output.format_time(device.get("registered_at"))),
        ("credential rotated", output.format_time(device.get("credential_rotated_at"))),
        ("revoked", output.format_time(device.get("revoked_at"))),
    ]


def _print_with_credential(state: State, registered: dict[str, Any]) -> None:
    """A device with its new credential: the API's document, or the fields and the secret."""
    credential = registered.get("credential")
    if not isinstance(credential, dict) or not credential.get("password"):
        # Checked before printing anything: a document without it would lose the secret
        # silently, and the device could never connect.
        raise UnavailableError(
            f"the gateway's answer for device {registered.get('id')} has no credential; "
            "run `iotctl devices rotate-credential` to get one"
        )
    if state.json:
        output.print_json(registered)
    else:
        click.echo(output.render_fields(device_fields(registered)))
        click.echo()
        click.echo("Broker credential (shown this once only):")
        click.echo(
            output.render_fields(
                [
                    ("username", credential.get("username")),
                    ("password", credential.get("password")),
                    ("vhost", credential.get("vhost")),
                ]
            )
        )
    warn(
        "the password is shown only this once and cannot be shown again; store it now "
        f"(`iotctl devices rotate-credential {registered.get('id')}` replaces a lost one)"
    )


def _get(client: ApiClient, device_id: str) -> dict[str, Any]:
    return expect_object(client.get(api_path("devices", device_id)), "the device")


def _describe(device: dict[str, Any]) -> str:
    """`dev-0123456789abcdef (cam-1, group lab of project site-1)`."""
    return (
        f"{device.get('id')} ({device.get('name')}, group {device.get('group')} "
        f"of project {device.get('project')})"
    )
