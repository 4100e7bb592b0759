"""`get sensors`, `get sensor SN` and `delete -s SN`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from iotctl import output
from iotctl.client import api_path, expect_list, expect_object
from iotctl.errors import RefusedError, UnavailableError
from iotctl.state import State, output_option, pass_state

PAGE_SIZE = 1000  # the gateway's largest page: fewest round trips for a full listing


@click.group("get")
def get() -> None:
    """Show sensors."""


@get.command("sensors")
@click.option("--target", help="Only the sensors assigned to this target.")
@click.option(
    "--state",
    "sensor_state",
    type=click.Choice(["online", "asleep", "offline"]),
    help="Only sensors in this state.",
)
@click.option(
    "--online/--offline",
    default=None,
    help="Only sensors heard from recently (asleep ones included) / only the others.",
)
@output_option
@pass_state
def get_sensors(
    state: State, target: str | None, sensor_state: str | None, online: bool | None
) -> None:
    """List every sensor, one row each (all pages)."""
    client = state.client()
    sensors: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {
            "target": target,
            "state": sensor_state,
            "online": online,
            "limit": PAGE_SIZE,
            "after": after,
        }
        page = expect_object(client.get(api_path("sensors"), params), "the sensor list")
        sensors += expect_list(page, "sensors", "the sensor list")
        next_after = page.get("next_after")
        if not next_after:
            break
        if next_after == after:  # a gateway bug would otherwise loop forever
            raise UnavailableError(f"the gateway returned the same page twice (after {after})")
        after = str(next_after)
    if state.json:
        output.print_json({"sensors": sensors, "next_after": None})
        return
    if not sensors:
        click.echo("No sensors found.", err=True)
        return
    now = datetime.now(UTC)
    click.echo(
        output.render_table(
            ["serial", "kind", "target", "state", "last seen", "sample Hz", "asleep", "in sync"],
            [
                [
                    sensor.get("serial_number"),
                    sensor.get("kind"),
                    sensor.get("target"),
                    sensor.get("state"),
                    output.ago(sensor.get("last_seen_at"), now),
                    _reported(sensor, "sample_frequency_hz"),
                    _reported(sensor, "asleep"),
                    sensor.get("in_sync"),
                ]
                for sensor in sensors
            ],
            right=[5],
        )
    )


@get.command("sensor")
@click.argument("serial")
@output_option
@pass_state
def get_sensor(state: State, serial: str) -> None:
    """Show one sensor: desired vs reported state, last seen, state, recent commands."""
    sensor = expect_object(state.client().get(api_path("sensors", serial)), "the sensor")
    if state.json:
        output.print_json(sensor)
        return
    now = datetime.now(UTC)
    click.echo(
        output.render_fields(
            [
                ("serial number", sensor.get("serial_number")),
                ("kind", sensor.get("kind")),
                ("target", sensor.get("target")),
                ("firmware", sensor.get("firmware_version")),
                ("state", sensor.get("state")),
                ("last seen", output.time_and_ago(sensor.get("last_seen_at"), now)),
                ("last measurement", output.time_and_ago(sensor.get("last_measurement_at"), now)),
                ("last heartbeat", output.time_and_ago(sensor.get("last_heartbeat_at"), now)),
                ("registered", output.format_time(sensor.get("registered_at"))),
                ("in sync", sensor.get("in_sync")),
            ]
        )
    )
    desired = sensor.get("desired") or {}
    reported = sensor.get("reported") or {}
    click.echo()
    click.echo(
        output.render_table(
            ["", "desired", "reported"],
            [
                ["asleep", desired.get("asleep"), reported.get("asleep")],
                [
                    "sample Hz",
                    desired.get("sample_frequency_hz"),
                    reported.get("sample_frequency_hz"),
                ],
                [
                    "updated",
                    output.format_time(desired.get("updated_at")),
                    output.format_time(reported.get("updated_at")),
                ],
            ],
        )
    )
    commands = sensor.get("recent_commands") or []
    click.echo()
    if not commands:
        click.echo("No recent commands.")
        return
    click.echo("Recent commands:")
    click.echo(
        output.render_table(
            ["command id", "action", "Hz", "status", "issued", "completed", "by", "reason"],
            [
                [
                    command.get("command_id"),
                    command.get("action"),
                    command.get("sample_frequency_hz"),
                    command.get("status"),
                    output.format_time(command.get("issued_at")),
                    output.format_time(command.get("completed_at")),
                    command.get("issued_by"),
                    command.get("reason"),
                ]
                for command in commands
            ],
        )
    )


@click.command("delete")
@click.option("-s", "--serial", required=True, help="The sensor to delete.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output_option
@pass_state
def delete(state: State, serial: str, yes: bool) -> None:
    """Delete a sensor (admin).

    Its registry row, commands and batch ledger go; its measurements and logs stay until
    retention removes them. Asks first unless --yes.
    """
    client = state.client()
    if not yes and not click.confirm(
        f"Delete sensor {serial} (its registry row, commands and batch ledger)?", default=False
    ):
        raise RefusedError("not confirmed; nothing was deleted")
    client.request("DELETE", api_path("sensors", serial))
    if not state.json:  # 204: the API has no document to print
        click.echo(f"Deleted sensor {serial}.")


def _reported(sensor: dict[str, Any], name: str) -> object:
    reported = sensor.get("reported")
    return reported.get(name) if isinstance(reported, dict) else None
