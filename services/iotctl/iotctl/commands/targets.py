"""`targets list|create|delete|assign|unassign`: the machines sensors are mounted on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from iotctl import output
from iotctl.client import ApiClient, api_path, expect_list, expect_object
from iotctl.errors import IotctlError
from iotctl.state import State, output_option, pass_state


@click.group("targets")
def targets() -> None:
    """Manage targets and assign sensors to them.

    A target is what sensors are mounted on (a pump, a fan), with an optional location.
    """


@targets.command("list")
@output_option
@pass_state
def list_targets(state: State) -> None:
    """List every target with its location and number of sensors."""
    answer = expect_object(state.client().get(api_path("targets")), "the target list")
    found = expect_list(answer, "targets", "the target list")
    if state.json:
        output.print_json(answer)
    elif not found:
        click.echo("No targets found.", err=True)
    else:
        click.echo(_target_table(found))


@targets.command("create")
@click.argument("name")
@click.option(
    "--latitude", type=click.FloatRange(-90, 90), help="Degrees north (with --longitude)."
)
@click.option(
    "--longitude", type=click.FloatRange(-180, 180), help="Degrees east (with --latitude)."
)
@output_option
@pass_state
def create(state: State, name: str, latitude: float | None, longitude: float | None) -> None:
    """Create a target, optionally with its location."""
    if (latitude is None) != (longitude is None):
        raise click.UsageError("give both --latitude and --longitude, or neither")
    body: dict[str, object] = {"name": name}
    if latitude is not None:
        body |= {"latitude": latitude, "longitude": longitude}
    target = expect_object(
        state.client().request("POST", api_path("targets"), body=body), "the new target"
    )
    if state.json:
        output.print_json(target)
    else:
        click.echo(_target_table([target]))


@targets.command("delete")
@click.argument("name")
@output_option
@pass_state
def delete(state: State, name: str) -> None:
    """Delete a target; its sensors become unassigned."""
    state.client().request("DELETE", api_path("targets", name))
    if not state.json:  # 204: the API has no document to print
        click.echo(f"Deleted target {name}; its sensors are unassigned.")


@targets.command("assign")
@click.argument("name")
@click.option(
    "-s", "--serial", "serials", multiple=True, required=True, help="A sensor (repeatable)."
)
@output_option
@pass_state
def assign(state: State, name: str, serials: tuple[str, ...]) -> None:
    """Assign sensors to a target."""
    _set_target(state, serials, name)


@targets.command("unassign")
@click.option(
    "-s", "--serial", "serials", multiple=True, required=True, help="A sensor (repeatable)."
)
@output_option
@pass_state
def unassign(state: State, serials: tuple[str, ...]) -> None:
    """Remove sensors from their target."""
    _set_target(state, serials, None)


def _set_target(state: State, serials: Sequence[str], target: str | None) -> None:
    """PUT each sensor's target; JSON output is `{"sensors": [Sensor, ...]}` as answered."""
    client = state.client()
    updated: list[dict[str, Any]] = []
    for serial in dict.fromkeys(serials):  # once each, in the order given
        try:
            updated.append(_put_target(client, serial, target))
        except IotctlError as error:
            # Say which sensors were changed already: the requests are not one transaction.
            done = ", ".join(str(sensor.get("serial_number")) for sensor in updated)
            suffix = f" (already done: {done})" if done else ""
            raise type(error)(f"{serial}: {error.format_message()}{suffix}") from error
    if state.json:
        output.print_json({"sensors": updated})
    else:
        click.echo(
            output.render_table(
                ["serial", "target"],
                [[sensor.get("serial_number"), sensor.get("target")] for sensor in updated],
            )
        )


def _put_target(client: ApiClient, serial: str, target: str | None) -> dict[str, Any]:
    answer = client.request("PUT", api_path("sensors", serial, "target"), body={"target": target})
    return expect_object(answer, "the sensor")


def _target_table(found: Sequence[dict[str, Any]]) -> str:
    return output.render_table(
        ["name", "latitude", "longitude", "sensors", "created"],
        [
            [
                target.get("name"),
                target.get("latitude"),
                target.get("longitude"),
                target.get("sensor_count"),
                output.format_time(target.get("created_at")),
            ]
            for target in found
        ],
        right=[1, 2, 3],
    )
