"""iotctl projects, groups, devices and join as real processes against a real api-gateway.

The gateway runs on the test's database and vhost. No join-dispatcher runs: while
`iotctl join --wait` polls, the test plays the dispatcher's part in SQL (the rows it would
write: one join_deliveries row per device, then the devices' answers, then the deadline sweep),
which pins down what iotctl shows for each state without depending on device timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from iot_storage.device_credentials import secret_matches

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import execute, query, scalar
from tests.support import wait_until

pytestmark = pytest.mark.integration

IOTCTL = Path(sys.executable).with_name("iotctl")
TIMEOUT = 120


class Operator:
    """Runs iotctl as a person with a key of each role would, through IOT_API_KEY."""

    def __init__(self, gateway: Gateway, home: Path) -> None:
        self.gateway = gateway
        self.env = {
            "IOTCTL_CONFIG": str(home / "iotctl" / "config.json"),
            "IOT_API_URL": gateway.url,
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
        }

    def _env(self, role: str) -> dict[str, str]:
        return {**self.env, "IOT_API_KEY": self.gateway.keys[role]}

    def run(
        self, *args: str, role: str = "admin", stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IOTCTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self._env(role),
            timeout=TIMEOUT,
            check=False,
        )

    def start(self, *args: str, role: str = "operator") -> Running:
        return Running(
            subprocess.Popen(
                [str(IOTCTL), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self._env(role),
            )
        )

    def json(self, *args: str, role: str = "admin") -> Any:
        done = self.run("-o", "json", *args, role=role)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


class Running:
    """An iotctl process whose stderr lines are read as they come, to step along with it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="iotctl-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str) -> None:
        """Until iotctl printed a progress line containing text: it saw that state."""
        wait_until(
            lambda: any(text in line for line in self.stderr_lines),
            30,
            f"iotctl to print {text!r} (so far: {self.stderr_lines})",
        )

    def finish(self) -> tuple[int, str, str]:
        """Exit code, stdout and stderr once it ended (killed if it hangs)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        try:
            # Its output is a table or a document of a few kB, far below a pipe's buffer, so
            # waiting before reading cannot block it; waiting first bounds a hang by TIMEOUT.
            self.process.wait(timeout=TIMEOUT)
            stdout = self.process.stdout.read()
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=5)
            self.process.stdout.close()
            self.process.stderr.close()
        return self.process.returncode, stdout, "\n".join(self.stderr_lines)


@pytest.fixture
def operator(gateway: Gateway, tmp_path: Path) -> Operator:
    return Operator(gateway, tmp_path)


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def _register(operator: Operator, group: str, name: str) -> dict[str, Any]:
    registered: dict[str, Any] = operator.json(
        "devices", "register", "--project", "site-1", "--group", group, "--name", name
    )
    return registered


def _set_up_fleet(operator: Operator) -> dict[str, str]:
    """Project site-1, groups lab (cam-1..3) and hall (mic-1); {name: device id}."""
    assert operator.run("projects", "create", "site-1", "--name", "Site one").returncode == 0
    for group in ("lab", "hall"):
        created = operator.run("groups", "create", "--project", "site-1", group)
        assert created.returncode == 0, created.stderr
    ids = {}
    for group, name in [("lab", "cam-1"), ("lab", "cam-2"), ("lab", "cam-3"), ("hall", "mic-1")]:
        ids[name] = _register(operator, group, name)["id"]
    return ids


def _password_matches(database: TestDatabase, device_id: str, password: str) -> bool:
    stored = scalar(database.admin_url, "SELECT secret_hash FROM devices WHERE id = %s", device_id)
    return secret_matches(password, bytes(stored))


def test_projects_and_groups(operator: Operator) -> None:
    created = operator.run("projects", "create", "site-1", "--name", "Site one")
    assert created.returncode == 0, created.stderr
    assert _rows(created.stdout)[1][:3] == ["site-1", "Site", "one"]
    duplicate = operator.run("projects", "create", "site-1", "--name", "Again")
    assert duplicate.returncode == 1
    assert duplicate.stderr.startswith("iotctl: error:")
    assert duplicate.stderr.rstrip().endswith("(409)")
    invalid = operator.run("projects", "create", "Site One", "--name", "x")
    assert invalid.returncode == 1
    assert invalid.stderr.rstrip().endswith("(422)")
    denied = operator.run("projects", "create", "site-2", "--name", "x", role="operator")
    assert denied.returncode == 3

    group = operator.run(
        "groups", "create", "--project", "site-1", "lab", "--comments", "north wing"
    )
    assert group.returncode == 0, group.stderr
    assert _rows(group.stdout)[1][:4] == ["site-1", "lab", "0", "0"]
    unknown_project = operator.run("groups", "create", "--project", "nope", "lab")
    assert unknown_project.returncode == 1
    assert unknown_project.stderr.rstrip().endswith("(404)")
    _register(operator, "lab", "cam-1")

    groups = operator.run("groups", "list", "--project", "site-1", role="viewer")
    assert groups.returncode == 0, groups.stderr
    assert _rows(groups.stdout)[1][:4] == ["site-1", "lab", "1", "0"]
    assert _rows(groups.stdout)[1][-2:] == ["north", "wing"]
    projects = operator.json("projects", "list", role="viewer")
    assert [(p["id"], p["groups"], p["devices"]) for p in projects["projects"]] == [
        ("site-1", 1, 1)
    ]


def test_devices_register_list_revoke_and_rotate(
    operator: Operator, database: TestDatabase
) -> None:
    assert operator.run("projects", "create", "site-1", "--name", "Site one").returncode == 0
    assert operator.run("groups", "create", "--project", "site-1", "lab").returncode == 0

    # Registering shows the credential once, in a table; the database keeps only its hash.
    table = operator.run(
        "devices", "register", "--project", "site-1", "--group", "lab", "--name", "cam-1"
    )
    assert table.returncode == 0, table.stderr
    fields = dict(line.split(None, 1) for line in table.stdout.splitlines() if " " in line)
    device_id, password = fields["id"].strip(), fields["password"].strip()
    assert fields["username"].strip() == device_id
    assert "cannot be shown again" in table.stderr
    assert _password_matches(database, device_id, password)
    unknown_group = operator.run(
        "devices", "register", "--project", "site-1", "--group", "nope", "--name", "cam-9"
    )
    assert unknown_group.returncode == 1
    assert unknown_group.stderr.rstrip().endswith("(404)")
    second = _register(operator, "lab", "cam-2")
    assert second["credential"]["username"] == second["id"]

    listed = operator.run("devices", "list", "--project", "site-1", role="viewer")
    assert listed.returncode == 0, listed.stderr
    header, *rows = _rows(listed.stdout)
    assert header == ["ID", "NAME", "GROUP", "ONLINE", "LAST", "SEEN", "REGISTERED", "REVOKED"]
    assert sorted((row[1], row[2], row[3], row[4], row[-1]) for row in rows) == [
        ("cam-1", "lab", "no", "-", "-"),
        ("cam-2", "lab", "no", "-", "-"),
    ]

    # Revoking asks first; a viewer may not; --yes skips the question.
    declined = operator.run("devices", "revoke", second["id"], stdin="n\n")
    assert declined.returncode == 1
    assert "not confirmed" in declined.stderr
    denied = operator.run("devices", "revoke", second["id"], "--yes", role="viewer")
    assert denied.returncode == 3
    revoked = operator.run("devices", "revoke", second["id"], "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"Revoked device {second['id']} (cam-2")
    assert scalar(
        database.admin_url, "SELECT revoked_at IS NOT NULL FROM devices WHERE id = %s", second["id"]
    )
    active = operator.json("devices", "list", "--project", "site-1", "--group", "lab")
    assert [d["name"] for d in active["devices"]] == ["cam-1"]
    everything = operator.json("devices", "list", "--project", "site-1", "--include-revoked")
    assert sorted(d["name"] for d in everything["devices"]) == ["cam-1", "cam-2"]

    refused = operator.run("devices", "rotate-credential", second["id"], "--yes")
    assert refused.returncode == 1
    assert refused.stderr.rstrip().endswith("(409)")
    rotated = operator.json("devices", "rotate-credential", device_id, "--yes")
    new_password = rotated["credential"]["password"]
    assert new_password != password
    assert _password_matches(database, device_id, new_password)
    assert not _password_matches(database, device_id, password)
    shown = operator.run("devices", "get", device_id, role="viewer")
    assert shown.returncode == 0, shown.stderr
    assert "credential rotated  20" in shown.stdout


def test_join_without_wait_records_the_request(operator: Operator, database: TestDatabase) -> None:
    _set_up_fleet(operator)

    bad_metadata = operator.run(
        "join",
        "--project",
        "site-1",
        "--group",
        "lab",
        "--session",
        "s",
        "--metadata",
        "[1]",
        role="operator",
    )
    assert bad_metadata.returncode == 2
    assert "not an object" in bad_metadata.stderr
    viewer = operator.run(
        "join", "--project", "site-1", "--group", "lab", "--session", "s", role="viewer"
    )
    assert viewer.returncode == 3
    unknown = operator.run(
        "join", "--project", "site-1", "--group", "nope", "--session", "s", role="operator"
    )
    assert unknown.returncode == 1
    assert unknown.stderr.rstrip().endswith("(404)")
    too_far = operator.run(
        "join",
        "--project",
        "site-1",
        "--group",
        "lab",
        "--session",
        "s",
        "--deadline",
        "30d",
        role="operator",
    )
    assert too_far.returncode == 1
    assert too_far.stderr.rstrip().endswith("(422)")
    assert scalar(database.admin_url, "SELECT count(*) FROM join_requests") == 0

    accepted = operator.json(
        "join",
        "--project",
        "site-1",
        "--group",
        "lab",
        "--session",
        "standup-1",
        "--metadata",
        '{"topic": "demo"}',
        "--deadline",
        "5m",
        role="operator",
    )
    request_id = accepted["join_request_id"]
    ((session_name, metadata, requested_by, minutes),) = query(
        database.admin_url,
        "SELECT session_name, session_metadata, requested_by, "
        "extract(epoch FROM deadline - requested_at) / 60 FROM join_requests WHERE id = %s",
        request_id,
    )
    assert (session_name, metadata, requested_by) == (
        "standup-1",
        {"topic": "demo"},
        "test-operator",
    )
    assert round(float(minutes)) == 5

    listed = operator.run("join-requests", "list", "--project", "site-1", role="viewer")
    assert listed.returncode == 0, listed.stderr
    assert _rows(listed.stdout)[1][:4] == [request_id, "lab", "standup-1", "pending"]
    shown = operator.run("join-requests", "get", request_id, role="viewer")
    assert shown.returncode == 0, shown.stderr
    assert 'metadata         {"topic": "demo"}' in shown.stdout


def _dispatch(url: str, request_id: str, device_ids: list[str]) -> None:
    """What the join-dispatcher records when it publishes one JOIN per device."""
    with_deliveries = " ".join(
        [
            "WITH deliveries AS (INSERT INTO join_deliveries",
            "(request_id, device_id, status, published_at)",
            "SELECT %s, device_id, 'pending', now() FROM unnest(%s::text[]) AS device_id)",
            "UPDATE join_requests SET status = 'dispatched', dispatched_at = now()",
            "WHERE id = %s",
        ]
    )
    execute(url, with_deliveries, request_id, device_ids, request_id)


def _answer(
    url: str, request_id: str, device_id: str, status: str, reason: str | None = None
) -> None:
    """A device's acknowledgement (delivered) or outcome (joined, failed)."""
    if status == "delivered":
        execute(
            url,
            "UPDATE join_deliveries SET status = 'delivered', delivered_at = now() "
            "WHERE request_id = %s AND device_id = %s",
            request_id,
            device_id,
        )
        return
    execute(
        url,
        "UPDATE join_deliveries SET status = %s, reason = %s, answered_at = now(), "
        "delivered_at = coalesce(delivered_at, now()) WHERE request_id = %s AND device_id = %s",
        status,
        reason,
        request_id,
        device_id,
    )


def _started_request(url: str, session_id: str) -> str:
    def find() -> str | None:
        rows = query(url, "SELECT id::text FROM join_requests WHERE session_id = %s", session_id)
        return str(rows[0][0]) if rows else None

    return wait_until(find, 30, f"the join request of {session_id}")


def test_join_wait_until_every_device_joined(operator: Operator, database: TestDatabase) -> None:
    ids = _set_up_fleet(operator)
    lab = [ids["cam-1"], ids["cam-2"], ids["cam-3"]]
    running = operator.start(
        "join", "--project", "site-1", "--group", "lab", "--session", "s-ok", "--wait"
    )
    try:
        request_id = _started_request(database.admin_url, "s-ok")
        # Each step once iotctl has shown the one before, so every change is seen.
        running.wait_for_line(f"join request {request_id}: pending")
        _dispatch(database.admin_url, request_id, lab)
        running.wait_for_line(f"cam-3 {ids['cam-3']}: pending")
        for device_id in lab:
            _answer(database.admin_url, request_id, device_id, "delivered")
        running.wait_for_line(f"cam-3 {ids['cam-3']}: pending -> delivered")
        for device_id in lab:
            _answer(database.admin_url, request_id, device_id, "joined")
    finally:
        code, stdout, stderr = running.finish()

    assert code == 0, stderr
    progress = stderr.splitlines()
    assert progress[:2] == [
        f"join request {request_id}: pending",
        f"join request {request_id}: pending -> dispatched, 3 device(s) targeted",
    ]
    assert f"cam-1 {ids['cam-1']}: pending -> delivered  [0/3 answered]" in progress
    assert progress[-1].endswith("-> joined  [3/3 answered]")
    header, *rows = _rows(stdout)
    assert header == ["DEVICE", "NAME", "STATUS", "REASON", "ANSWERED", "AT"]
    assert sorted((row[0], row[1], row[2], row[3]) for row in rows) == sorted(
        (ids[name], name, "joined", "-") for name in ("cam-1", "cam-2", "cam-3")
    )
    # The hall's device was not asked.
    assert (
        scalar(
            database.admin_url,
            "SELECT count(*) FROM join_deliveries WHERE device_id = %s",
            ids["mic-1"],
        )
        == 0
    )


def test_join_wait_reports_failed_and_expired_devices(
    operator: Operator, database: TestDatabase
) -> None:
    ids = _set_up_fleet(operator)
    lab = [ids["cam-1"], ids["cam-2"], ids["cam-3"]]
    running = operator.start(
        "-o",
        "json",
        "join",
        "--project",
        "site-1",
        "--group",
        "lab",
        "--session",
        "s-late",
        "--deadline",
        "4s",
        "--wait",
    )
    try:
        request_id = _started_request(database.admin_url, "s-late")
        _dispatch(database.admin_url, request_id, lab)
        _answer(database.admin_url, request_id, ids["cam-1"], "joined")
        _answer(database.admin_url, request_id, ids["cam-2"], "failed", "no camera attached")
        _answer(database.admin_url, request_id, ids["cam-3"], "delivered")
        # The deadline sweep: cam-3 never answered.
        wait_until(
            lambda: scalar(
                database.admin_url,
                "SELECT deadline < now() FROM join_requests WHERE id = %s",
                request_id,
            ),
            30,
            "the deadline to pass",
        )
        execute(
            database.admin_url,
            "UPDATE join_deliveries SET status = 'expired' "
            "WHERE request_id = %s AND status IN ('pending', 'delivered')",
            request_id,
        )
        execute(
            database.admin_url,
            "UPDATE join_requests SET status = 'closed', closed_at = now() WHERE id = %s",
            request_id,
        )
    finally:
        code, stdout, stderr = running.finish()

    assert code == 5, stderr
    document = json.loads(stdout)
    assert document["status"] == "closed"
    assert document["counts"] == {
        "targeted": 3,
        "pending": 0,
        "delivered": 0,
        "joined": 1,
        "failed": 1,
        "expired": 1,
    }
    assert stderr.splitlines()[-1] == (
        "iotctl: error: 2 of 3 device(s) did not join: cam-2 failed (no camera attached); "
        "cam-3 expired"
    )

    # The same outcome as a table, from `join-requests get`.
    shown = operator.run("join-requests", "get", request_id, "--wait", role="viewer")
    assert shown.returncode == 5
    rows = {row[1]: row for row in _rows(shown.stdout.split("\n\n")[1])[1:]}
    assert rows["cam-1"][2] == "joined"
    assert rows["cam-2"][2:6] == ["failed", "no", "camera", "attached"]
    assert rows["cam-3"][2:] == ["expired", "-", "-"]
