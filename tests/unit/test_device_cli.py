"""`iot-device run` refuses a bad configuration with exit code 2, before connecting anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from iot_device.__main__ import cli

DEVICE = "dev-0123456789abcdef"


def _run(*args: str, **env: str | None) -> tuple[int, str]:
    # Every variable the command reads is set (or unset) here, so the caller's shell cannot leak in.
    base: dict[str, str | None] = {
        "IOT_DEVICE_ID": DEVICE,
        "IOT_DEVICE_SECRET": "secret",
        "IOT_AMQP_URL": "amqp://127.0.0.1:5672/",
    }
    result = CliRunner().invoke(cli, ["run", *args], env={**base, **env})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IOT_DEVICE_ID": None}, "Missing option '--device-id'"),
        ({"IOT_DEVICE_ID": "sensor-1"}, "invalid device id 'sensor-1'"),
        ({"IOT_DEVICE_SECRET": None}, "no device secret"),
        ({"IOT_DEVICE_SECRET": "  "}, "no device secret"),
        ({"IOT_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/"}, "must not contain credentials"),
        ({"IOT_RECONNECT_MAX_SECONDS": "0"}, "--reconnect-max-seconds"),
        ({"IOT_LOG_LEVEL": "loud"}, "--log-level"),
    ],
    ids=[
        "no-device-id",
        "bad-device-id",
        "no-secret",
        "blank-secret",
        "credentials-in-url",
        "bad-delay",
        "bad-log-level",
    ],
)
def test_a_bad_configuration_is_a_usage_error(env: dict[str, str | None], message: str) -> None:
    code, output = _run(**env)
    assert code == 2
    assert message in output


def test_the_secret_is_not_an_option() -> None:
    """A secret on the command line would be in every user's process list."""
    code, output = _run("--secret", "s3cret")
    assert (code, "No such option '--secret'" in output) == (2, True)


def test_an_empty_or_missing_secret_file_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "secret"
    empty.write_text("\n")
    code, output = _run("--secret-file", str(empty), IOT_DEVICE_SECRET=None)
    assert (code, "no device secret" in output) == (2, True)
    code, output = _run("--secret-file", str(tmp_path / "missing"))
    assert (code, "does not exist" in output) == (2, True)
