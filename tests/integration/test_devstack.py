"""`iot-dev up` end to end: migrations, the services, three simulators, live numbers, summary."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from iot_storage.urls import database_url

from tests.integration.db_fixtures import admin_url, drop_database

pytestmark = pytest.mark.integration

SERIALS = ("sim-1hz", "sim-200hz", "sim-5khz")
PROCESSES = (
    "sensor-registry",
    "measurements-ingester",
    "logs-ingester",
    "api-gateway",
    "join-dispatcher",
    *(f"sensor-simulator-{serial}" for serial in SERIALS),
)
DURATION_SECONDS = 12
# Start-up, migrations and the orderly stop come on top of the duration.
TIMEOUT_SECONDS = DURATION_SECONDS + 150
LIVE_LINE = re.compile(r"^\d\d:\d\d:\d\d  (?P<sensors>.+?)  \| total [\d,]+/s  stored [\d,]+")
SENSOR_RATE = re.compile(r"(?P<serial>\S+) (?P<rate>[\d,]+)/s")
SUMMARY_ROW = re.compile(r"^  (?P<name>\S+)\s+(?P<rows>[\d,]+)$")


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _logs(log_dir: Path) -> str:
    return "\n".join(
        f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-20:])
        for path in sorted(log_dir.glob("*.log"))
    )


def test_up_streams_every_sensor_into_the_database_and_stops_cleanly(
    amqp_url: str, tmp_path: Path
) -> None:
    database = f"iot_devstack_{secrets.token_hex(6)}"
    log_dir = tmp_path / "logs"
    command = [
        str(Path(sys.executable).parent / "iot-dev"),
        "up",
        "--duration",
        str(DURATION_SECONDS),
        "--database",
        database,
        "--admin-url",
        admin_url(),
        "--amqp-url",
        amqp_url,
        "--log-dir",
        str(log_dir),
        # Port 0: the test must not depend on 8080 being free.
        "--api-port",
        "0",
    ]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        output = result.stdout + result.stderr
        context = f"{output}\n{_logs(log_dir)}"
        assert result.returncode == 0, context

        # Live lines (plain, as stdout is not a terminal): every sensor had a non-zero rate.
        best: dict[str, int] = dict.fromkeys(SERIALS, 0)
        live_lines = 0
        for line in result.stdout.splitlines():
            match = LIVE_LINE.match(line)
            if match is None:
                continue
            live_lines += 1
            for rate in SENSOR_RATE.finditer(match["sensors"]):
                best[rate["serial"]] = max(best.get(rate["serial"], 0), _number(rate["rate"]))
        assert live_lines >= DURATION_SECONDS // 2, context
        assert all(best[serial] > 0 for serial in SERIALS), (best, context)

        # The summary names every sensor with the rows it stored.
        summary = result.stdout.split("rows stored:\n", 1)
        assert len(summary) == 2, context
        reported = {
            match["name"]: _number(match["rows"])
            for line in summary[1].splitlines()
            if (match := SUMMARY_ROW.match(line))
        }
        assert set(reported) == {*SERIALS, "total"}, context
        assert all(reported[serial] > 0 for serial in SERIALS), context
        assert "dead-lettered during the run: 0" in result.stdout, context

        # The database holds exactly the rows the summary reports, for every serial.
        with psycopg.connect(database_url(admin_url(), database), autocommit=True) as conn:
            stored: dict[str, int] = dict(
                conn.execute(
                    "SELECT s.serial_number, count(m.sensor_id) FROM sensors AS s"
                    " LEFT JOIN measurements AS m ON m.sensor_id = s.id"
                    " GROUP BY s.serial_number"
                ).fetchall()
            )
        assert stored == {serial: reported[serial] for serial in SERIALS}, context

        # Every process had a log of its own, and ended with a clean stop.
        assert sorted(path.stem for path in log_dir.glob("*.log")) == sorted(PROCESSES)
        for name in PROCESSES:
            last = (log_dir / f"{name}.log").read_text().splitlines()[-1]
            assert '"stopped"' in last or '"service stopped"' in last, (name, last)
    finally:
        drop_database(database)
