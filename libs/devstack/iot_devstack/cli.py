"""iot-dev: run the whole system on this machine for development (`make up`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from iot_service.settings import LOCAL_AMQP_URL

from iot_devstack.display import Console
from iot_devstack.sensors import DEFAULT_SENSORS, SensorSpec, SensorSpecError, parse_sensors
from iot_devstack.stack import StackConfig, up

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXIT_INTERRUPTED = 130


def _repository() -> Path:
    """The checkout this package runs from (an editable install), else the current directory."""
    candidate = Path(__file__).resolve().parents[3]
    return candidate if (candidate / "pyproject.toml").is_file() else Path.cwd()


def _sensors(_ctx: click.Context, _param: click.Parameter, value: str) -> list[SensorSpec]:
    try:
        return parse_sensors(value)
    except SensorSpecError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def main() -> None:
    """Development tools for the telemetry platform."""


@main.command("up")
@click.option(
    "--database",
    default="iot",
    show_default=True,
    help="database to migrate (created if missing) and write to",
)
@click.option(
    "--admin-url",
    default=LOCAL_ADMIN_URL,
    show_default=True,
    help="the PostgreSQL server as a superuser, for migrations; its database name is ignored",
)
@click.option(
    "--amqp-url",
    envvar="IOT_AMQP_URL",
    default=LOCAL_AMQP_URL,
    show_default=True,
    help="RabbitMQ URL, virtual host included (env: IOT_AMQP_URL)",
)
@click.option(
    "--sensors",
    default=DEFAULT_SENSORS,
    show_default=True,
    callback=_sensors,
    help="simulated sensors: comma-separated sample rates in Hz (k = kHz), each optionally"
    " named SERIAL=RATE; serials default to sim-<rate>, e.g. sim-5khz",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="stop after this many seconds of streaming (default: run until Ctrl-C)",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="port of the api-gateway's HTTP API on 127.0.0.1 (gRPC: --api-port + 1)",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where each process writes its log  [default: var/log in the repository]",
)
def up_command(  # noqa: PLR0917 (click passes every option as an argument)
    database: str,
    admin_url: str,
    amqp_url: str,
    sensors: list[SensorSpec],
    duration: float | None,
    api_port: int,
    log_dir: Path | None,
) -> None:
    """Run everything: migrations, the services, the API and simulated sensors, live rows/s.

    Needs PostgreSQL (started here if it is installed but down) and RabbitMQ. Every process
    logs JSON lines to its own file under --log-dir. Ctrl-C or SIGTERM stops the simulators,
    lets the queued batches be stored, stops the services and prints a summary; a second
    Ctrl-C stops at once.
    """
    config = StackConfig(
        admin_url=admin_url,
        database=database,
        amqp_url=amqp_url,
        sensors=sensors,
        log_dir=(log_dir or _repository() / "var" / "log").absolute(),
        duration=duration,
        api_port=api_port,
    )
    console = Console(sys.stdout, terminal=sys.stdout.isatty())
    try:
        code = up(config, console)
    except KeyboardInterrupt:  # only before the processes start: they stop on signals
        console.say("interrupted")
        code = EXIT_INTERRUPTED
    sys.exit(code)
