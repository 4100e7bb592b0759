"""iotctl as a real process (the console script and `python -m iotctl`) against a real server.

These check what CliRunner cannot: the entry points, exit codes as the shell sees them, the
config file written by a separate process, Ctrl-C (SIGINT) ending `logs --follow` with 0, and
the spinner drawn when stderr is a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from iotctl import config
from iotctl.client import _interrupt_after

from tests.support import wait_until
from tests.unit.test_iotctl_fake_gateway import (
    API_KEY,
    WHOAMI,
    Answer,
    FakeGateway,
    command,
    running_gateway,
    sensor,
)

ICTL = str(Path(sys.executable).parent / "iotctl")
C1 = "0b5e1f3c-1111-4000-8000-000000000001"
TIMEOUT = 60


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        running.route("GET", "/api/v1/whoami", WHOAMI)
        yield running


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config" / "iotctl" / "config.json"


@pytest.fixture
def env(tmp_path: Path, config_file: Path, gateway: FakeGateway) -> dict[str, str]:
    """The environment of an operator logged in to the fake gateway, nothing else."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("IOT")}
    clean.pop("XDG_CONFIG_HOME", None)
    return {**clean, "HOME": str(tmp_path / "home"), "IOT_API_URL": gateway.url}


def _iotctl(
    env: dict[str, str], *args: str, stdin: str = "", module: bool = True
) -> subprocess.CompletedProcess[str]:
    command_line = [sys.executable, "-m", "iotctl"] if module else [ICTL]
    return subprocess.run(
        [*command_line, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


# iotctl as a person at a terminal runs it: Ctrl-C raises KeyboardInterrupt. A shell starts a
# background job (a CI runner's, say) with SIGINT ignored, Python keeps an ignored SIGINT
# ignored, and the test's SIGINT would then never reach iotctl.
_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('iotctl', run_name='__main__', alter_sys=True)"
)


@pytest.fixture
def ctrl_c_interrupts() -> Iterator[None]:
    """This process's SIGINT raises KeyboardInterrupt for the test, whatever it inherited."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _log_in(env: dict[str, str]) -> None:
    # As `iotctl login` leaves it (tested above through the real process), minus a second's run.
    config.save(
        Path(env["HOME"]) / ".config" / "iotctl" / "config.json",
        config.StoredConfig(api_url=env["IOT_API_URL"], api_key=API_KEY),
    )


def test_login_from_the_console_script_stores_a_private_config(
    env: dict[str, str], config_file: Path, gateway: FakeGateway
) -> None:
    done = _iotctl(env, "login", "--api-key-stdin", stdin=API_KEY + "\n", module=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Logged in to {gateway.url} as ops-key (operator).")
    # The default location under $HOME, private, holding exactly the URL and the key.
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    assert json.loads(config_file.read_text()) == {"api_url": gateway.url, "api_key": API_KEY}
    assert gateway.received()[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_login_with_a_refused_key_exits_3_and_stores_nothing(
    env: dict[str, str], config_file: Path
) -> None:
    done = _iotctl(env, "login", "--api-key-stdin", stdin="iot_wrong\n")

    assert done.returncode == 3
    assert done.stderr.startswith("iotctl: error: the gateway refused the API key (401)")
    assert "Traceback" not in done.stderr
    assert not config_file.exists()


def test_get_sensors_json_and_table(env: dict[str, str], gateway: FakeGateway) -> None:
    _log_in(env)
    gateway.route("GET", "/api/v1/sensors", {"sensors": [sensor("sim-1hz")], "next_after": None})

    as_json = _iotctl(env, "-o", "json", "get", "sensors")
    as_table = _iotctl(env, "get", "sensors", module=False)

    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"sensors": [sensor("sim-1hz")], "next_after": None}
    assert as_table.returncode == 0, as_table.stderr
    assert as_table.stdout.splitlines()[1].split()[:4] == [
        "sim-1hz",
        "accelerometer",
        "pump-1",
        "online",
    ]


def test_a_503_exits_4_and_a_422_list_exits_1(env: dict[str, str], gateway: FakeGateway) -> None:
    _log_in(env)
    gateway.route("POST", "/api/v1/commands", Answer(503, {"detail": "broker unreachable"}))
    unavailable = _iotctl(env, "sleep", "-s", "sim-1hz")
    assert unavailable.returncode == 4
    assert unavailable.stderr == (
        "iotctl: error: the gateway could not publish the command (503): broker unreachable\n"
    )

    detail = [{"loc": ["body", "ttl_seconds"], "msg": "Input should be <= 86400"}]
    gateway.route("POST", "/api/v1/commands", Answer(422, {"detail": detail}))
    invalid = _iotctl(env, "awake", "--all")
    assert invalid.returncode == 1
    assert invalid.stderr == "iotctl: error: body.ttl_seconds: Input should be <= 86400 (422)\n"


def test_an_unreachable_gateway_exits_4(env: dict[str, str]) -> None:
    _log_in(env)

    done = _iotctl(env, "--api-url", "http://127.0.0.1:9", "get", "sensors")

    assert done.returncode == 4
    assert done.stderr.startswith("iotctl: error: cannot reach the gateway at http://127.0.0.1:9")


@pytest.mark.parametrize("selection", [[], ["-s", "a", "--target", "t"]])
def test_selector_errors_exit_2(
    env: dict[str, str], gateway: FakeGateway, selection: list[str]
) -> None:
    done = _iotctl(env, "sleep", *selection)

    assert done.returncode == 2
    assert "give exactly one of -s/--serial SN, --target T or --all" in done.stderr
    assert gateway.received() == []


def test_wait_until_applied_then_exit_0(env: dict[str, str], gateway: FakeGateway) -> None:
    _log_in(env)
    gateway.route(
        "POST",
        "/api/v1/commands",
        Answer(202, {"request_id": "r", "commands": [command(C1, "sim-1hz")]}),
    )
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        command(C1, "sim-1hz", "delivered"),
        command(C1, "sim-1hz", "applied"),
    )

    done = _iotctl(env, "sleep", "-s", "sim-1hz", "--wait", "--timeout", "30")

    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"sim-1hz {C1}: pending",
        f"sim-1hz {C1}: pending -> delivered",
        f"sim-1hz {C1}: delivered -> applied",
    ]
    assert done.stdout.splitlines()[1].split() == ["sim-1hz", C1, "applied"]


def test_wait_for_a_rejected_command_exits_5(env: dict[str, str], gateway: FakeGateway) -> None:
    _log_in(env)
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        command(C1, "sim-1hz", "pending"),
        command(C1, "sim-1hz", "rejected", reason="unsupported frequency"),
    )

    done = _iotctl(env, "-o", "json", "commands", "status", C1, "--wait")

    assert done.returncode == 5
    assert json.loads(done.stdout)["status"] == "rejected"
    assert done.stderr.splitlines()[-1] == (
        "iotctl: error: 1 of 1 command(s) did not apply: sim-1hz rejected (unsupported frequency)"
    )


def test_wait_on_a_terminal_draws_a_spinner(env: dict[str, str], gateway: FakeGateway) -> None:
    _log_in(env)
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        command(C1, "sim-1hz", "pending"),
        command(C1, "sim-1hz", "applied"),
    )
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "iotctl", "commands", "status", C1, "--wait"],
            env={**env, "PYTHONIOENCODING": "utf-8"},
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        stdout, _ = process.communicate(timeout=TIMEOUT)
    finally:
        os.close(controller)

    assert process.returncode == 0
    text = drawn.decode()
    assert "waiting for 1 command: pending 1" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end
    assert "applied" in stdout


def test_logs_follow_deduplicates_and_exits_0_on_sigint(
    env: dict[str, str], gateway: FakeGateway
) -> None:
    _log_in(env)

    def line(second: int, sequence: int, message: str) -> dict[str, object]:
        return {
            "time": f"2026-11-23T10:00:{second:02d}Z",
            "sequence": sequence,
            "level": "info",
            "message": message,
        }

    gateway.route(
        "GET",
        "/api/v1/sensors/s/logs",
        {"logs": [line(1, 1, "one")]},
        {"logs": [line(1, 1, "one"), line(2, 2, "two")]},
        {"logs": [line(2, 2, "two"), line(3, 3, "three")]},
    )
    process = subprocess.Popen(
        [sys.executable, "-c", _WITH_CTRL_C, "logs", "s", "--follow"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: len(gateway.received("GET", "/api/v1/sensors/s/logs")) >= 4,
            timeout=30,
            what="four polls",
        )
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()  # also closes the pipes

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert [text.split()[-1] for text in stdout.splitlines()] == ["one", "two", "three"]


def test_completion_script_and_the_completion_protocol(env: dict[str, str]) -> None:
    script = _iotctl(env, "completion", "bash", module=False)
    assert script.returncode == 0
    assert "_IOTCTL_COMPLETE=bash_complete" in script.stdout

    # What the script does on Tab: run iotctl with the words so far.
    completing = {
        **env,
        "_IOTCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "iotctl ta",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [ICTL], env=completing, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["plain,targets"]


def test_version_from_python_m(env: dict[str, str]) -> None:
    done = _iotctl(env, "--version")

    assert done.returncode == 0
    assert done.stdout.startswith("iotctl ")


@pytest.mark.usefixtures("ctrl_c_interrupts")
def test_ctrl_c_during_a_request_is_raised_only_once_the_request_is_over() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), _interrupt_after():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here: it must not raise inside the request
        finished.append(True)
    assert finished == [True]
    # The previous handler is back: a second Ctrl-C interrupts at once.
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


@pytest.mark.usefixtures("ctrl_c_interrupts")
def test_ctrl_c_wins_over_a_failed_request() -> None:
    with pytest.raises(KeyboardInterrupt), _interrupt_after():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        raise ConnectionError("the request failed too")
