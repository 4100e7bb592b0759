"""iotctl as an operator runs it: a real process against a real api-gateway, database and broker;
assertions on its output, its exit codes, its config file and the rows it caused."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import execute, scalar

pytestmark = pytest.mark.integration

IOTCTL = Path(sys.executable).with_name("iotctl")


class Operator:
    """Runs iotctl with its own config file, as one person at a terminal would."""

    def __init__(self, gateway: Gateway, home: Path) -> None:
        self.gateway = gateway
        self.config = home / "iotctl" / "config.json"
        self.env = {"IOTCTL_CONFIG": str(self.config), "PATH": "/usr/bin:/bin", "HOME": str(home)}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IOTCTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def login(self, role: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "login", "--api-url", self.gateway.url, "--api-key-stdin", stdin=self.gateway.keys[role]
        )


@pytest.fixture
def operator(gateway: Gateway, tmp_path: Path) -> Operator:
    return Operator(gateway, tmp_path)


def test_login_stores_the_key_privately_and_logout_forgets_it(operator: Operator) -> None:
    refused = operator.run(
        "login", "--api-url", operator.gateway.url, "--api-key-stdin", stdin="iot_nope"
    )
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("iotctl: error:")
    assert not operator.config.exists()

    logged_in = operator.login("operator")
    assert logged_in.returncode == 0, logged_in.stderr
    assert "test-operator (operator)" in logged_in.stdout
    assert stat.S_IMODE(operator.config.stat().st_mode) == 0o600
    assert json.loads(operator.config.read_text())["api_key"] == operator.gateway.keys["operator"]

    assert operator.run("logout").returncode == 0
    after = operator.run("get", "sensors")
    assert after.returncode == 3
    assert "iotctl login" in after.stderr


def test_an_operator_session(operator: Operator, database: TestDatabase) -> None:
    execute(
        database.admin_url,
        "INSERT INTO sensors (serial_number, sample_frequency_hz) "
        "VALUES ('sim-a', 1), ('sim-b', 200)",
    )
    assert operator.login("operator").returncode == 0

    table = operator.run("get", "sensors")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert "SERIAL" in header
    assert [row.split()[0] for row in rows] == ["sim-a", "sim-b"]
    listed = json.loads(operator.run("get", "sensors", "-o", "json").stdout)
    assert [s["serial_number"] for s in listed["sensors"]] == ["sim-a", "sim-b"]

    assert (
        operator.run(
            "targets", "create", "pump-1", "--latitude", "48.1", "--longitude", "11.6"
        ).returncode
        == 0
    )
    assert operator.run("targets", "assign", "pump-1", "-s", "sim-a").returncode == 0
    targets = operator.run("targets", "list")
    assert "pump-1" in targets.stdout
    duplicate = operator.run("targets", "create", "pump-1")
    assert duplicate.returncode == 1
    assert "exists already" in duplicate.stderr

    slept = operator.run("sleep", "--target", "pump-1", "-o", "json")
    assert slept.returncode == 0, slept.stderr
    (command,) = json.loads(slept.stdout)["commands"]
    assert command["serial_number"] == "sim-a"
    assert (
        scalar(
            database.admin_url, "SELECT status FROM commands WHERE id = %s", command["command_id"]
        )
        == "pending"
    )
    status = operator.run("commands", "status", command["command_id"])
    assert status.returncode == 0
    assert "pending" in status.stdout

    detail = operator.run("get", "sensor", "sim-a")
    assert detail.returncode == 0
    assert "pump-1" in detail.stdout

    invalid = operator.run("change-sample-frequency", "-s", "sim-b", "-f", "1000000")
    assert invalid.returncode == 1
    assert "at most 25000" in invalid.stderr
    missing = operator.run("get", "sensor", "sim-zz")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "iotctl: error: no sensor with serial number 'sim-zz' (404)"
    two_selectors = operator.run("awake", "-s", "sim-a", "--all")
    assert two_selectors.returncode == 2

    denied = operator.run("delete", "-s", "sim-b", "--yes")
    assert denied.returncode == 3
    assert "needs admin" in denied.stderr
    assert scalar(database.admin_url, "SELECT count(*) FROM sensors") == 2


def test_unreachable_gateway_and_viewer_rights(operator: Operator) -> None:
    assert operator.login("viewer").returncode == 0
    refused = operator.run("sleep", "--all")
    assert refused.returncode == 3
    assert "needs operator" in refused.stderr
    unreachable = operator.run("--api-url", "http://127.0.0.1:1", "get", "sensors")
    assert unreachable.returncode == 4
    assert unreachable.stderr.startswith("iotctl: error:")
    assert "Traceback" not in unreachable.stderr
