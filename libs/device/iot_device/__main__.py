"""Entry point of the `iot-device` console script: run one device until SIGTERM or SIGINT.

    IOT_DEVICE_ID=dev-... IOT_DEVICE_SECRET=... iot-device run --amqp-url amqp://broker:5672/

The secret comes from the environment or a file, never from the command line (where any user of
the machine could read it in the process list). Exit codes: 0 after a signal, 2 for a usage or
configuration error.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from iot_routing import InvalidNameError, validate_device_id
from iot_service import Health, configure_logging, run_service

from iot_device import SERVICE
from iot_device.broker import DEFAULT_BROKER, BrokerAddressError, check_address
from iot_device.client import DEFAULT_MAX_DELAY_SECONDS, DeviceClient
from iot_device.inbox import DEFAULT_JOIN_TIMEOUT_SECONDS
from iot_device.joining import FailingJoiner, Joiner
from iot_device.token_joiner import TokenJoiner

SECRET_ENV = "IOT_DEVICE_SECRET"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


def _device_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return validate_device_id(value)
    except InvalidNameError as exc:
        raise click.BadParameter(str(exc)) from exc


def _address(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return check_address(value)
    except BrokerAddressError as exc:
        raise click.BadParameter(str(exc)) from exc


def _read_secret(secret_file: Path | None) -> str:
    """The secret from --secret-file (which wins) or the environment; UsageError if none."""
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read --secret-file {secret_file}: {exc}") from exc
        where = f"--secret-file {secret_file}"
    else:
        secret = os.environ.get(SECRET_ENV, "").strip()
        where = SECRET_ENV
    if not secret:
        raise click.UsageError(
            f"no device secret: set {SECRET_ENV} or pass --secret-file ({where} is empty)"
        )
    return secret


@click.group()
def cli() -> None:
    """A device of the session-join platform."""


@cli.command()
@click.option(
    "--device-id",
    envvar="IOT_DEVICE_ID",
    required=True,
    callback=_device_id,
    show_envvar=True,
    help="the device's id, which is its broker user name",
)
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"file holding the device's secret (otherwise ${SECRET_ENV})",
)
@click.option(
    "--amqp-url",
    envvar="IOT_AMQP_URL",
    default=DEFAULT_BROKER,
    show_default=True,
    show_envvar=True,
    callback=_address,
    help="the broker's address, without credentials; a path names the vhost",
)
@click.option(
    "--fail-joins",
    is_flag=True,
    help="answer every JOIN with FAILED (demos and tests)",
)
@click.option(
    "--join-timeout",
    envvar="IOT_JOIN_TIMEOUT_SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_JOIN_TIMEOUT_SECONDS,
    show_default=True,
    show_envvar=True,
    help="a join taking longer is answered FAILED",
)
@click.option(
    "--reconnect-max-seconds",
    envvar="IOT_RECONNECT_MAX_SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_MAX_DELAY_SECONDS,
    show_default=True,
    show_envvar=True,
    help="longest wait between connection attempts",
)
@click.option(
    "--log-level",
    envvar="IOT_LOG_LEVEL",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    show_envvar=True,
)
@click.option(
    "--log-format",
    envvar="IOT_LOG_FORMAT",
    type=click.Choice(LOG_FORMATS),
    default="auto",
    show_default=True,
    show_envvar=True,
    help="auto: readable on a terminal, JSON lines otherwise",
)
def run(  # noqa: PLR0917 (click passes every option as an argument)
    device_id: str,
    secret_file: Path | None,
    amqp_url: str,
    fail_joins: bool,
    join_timeout: float,
    reconnect_max_seconds: float,
    log_level: str,
    log_format: str,
) -> None:
    """Consume this device's queue: join sessions, answer pings, until SIGTERM or SIGINT."""
    secret = _read_secret(secret_file)
    log = configure_logging(SERVICE, log_level, log_format).bind(device=device_id)
    joiner: Joiner = FailingJoiner() if fail_joins else TokenJoiner(device_id, log)
    client = DeviceClient(
        device_id,
        secret,
        joiner,
        log,
        broker=amqp_url,
        max_delay=reconnect_max_seconds,
        join_timeout=join_timeout,
    )
    log.info("starting", broker=amqp_url, fail_joins=fail_joins)
    run_service(client.run, Health())
    log.info("stopped", **vars(client.stats))


def main() -> None:
    cli(prog_name=SERVICE)


if __name__ == "__main__":
    main()
