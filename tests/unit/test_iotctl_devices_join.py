"""iotctl join (with and without --wait) and join-requests list|get, via CliRunner and a pty.

The fake gateway answers `GET /join-requests/{id}` with a sequence of documents, as the
request moves on between polls; stderr is not a terminal under CliRunner, so the progress is
one line per change there, and the redrawn bar is checked through a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from iotctl import config, joining

from tests.unit.test_iotctl_fake_gateway import (
    API_KEY,
    T0,
    Answer,
    Cli,
    FakeGateway,
    isolated_cli,
    running_gateway,
)

REQUEST = "5f0c8e7a-1111-4000-8000-00000000000a"
PATH = f"/api/v1/join-requests/{REQUEST}"
TIMEOUT = 60


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    monkeypatch.setattr(joining, "POLL_INTERVAL_SECONDS", 0.01)
    return isolated_cli(tmp_path, monkeypatch, gateway)


def _from_now(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def device_id(index: int) -> str:
    return f"dev-{index:016d}"


def join_request(
    status: str, *answers: tuple[str, str | None], deadline: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A JoinRequestStatus; `answers` are (status, reason) of the devices cam-1, cam-2, ..."""
    devices = [
        {
            "device_id": device_id(index),
            "name": f"cam-{index + 1}",
            "status": device_status,
            "reason": reason,
            "published_at": T0,
            "delivered_at": None if device_status == "pending" else T0,
            "answered_at": (
                f"2026-11-23T10:00:0{index + 1}Z" if device_status in ("joined", "failed") else None
            ),
        }
        for index, (device_status, reason) in enumerate(answers)
    ]
    counts = {"targeted": len(devices)} | {
        name: sum(1 for device in devices if device["status"] == name)
        for name in ("pending", "delivered", "joined", "failed", "expired")
    }
    document: dict[str, Any] = {
        "join_request_id": REQUEST,
        "project": "site-1",
        "group": "lab",
        "session_id": "s-42",
        "session_name": "s-42",
        "session_metadata": {},
        "status": status,
        "requested_by": "ops-key",
        "requested_at": T0,
        "deadline": deadline or _from_now(60),
        "dispatched_at": None if status == "pending" else T0,
        "closed_at": T0 if status == "closed" else None,
        "counts": counts,
        "devices": devices,
    }
    document.update(extra)
    return document


def _accepted(deadline: str | None = None) -> Answer:
    return Answer(202, {"join_request_id": REQUEST, "deadline": deadline or _from_now(60)})


JOIN = ("join", "--project", "site-1", "--group", "lab", "--session", "s-42")


# join without --wait


def test_join_posts_the_request_and_prints_its_id(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted("2026-11-23T10:01:00Z"))

    result = cli.run(*JOIN)

    assert result.exit_code == 0, result.output
    (post,) = gateway.received("POST", "/api/v1/join-requests")
    assert post.body == {
        "project": "site-1",
        "group": "lab",
        "session_id": "s-42",
        "session_name": "s-42",
        "session_metadata": {},
        "deadline": "60s",
    }
    assert result.stdout.splitlines() == [
        f"join request id  {REQUEST}",
        "deadline         2026-11-23 10:01:00Z",
    ]


def test_join_sends_the_session_name_metadata_and_deadline(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())

    result = cli.run(
        *JOIN,
        "--session-name",
        "Morning stand-up",
        "--metadata",
        '{"topic": "demo", "lights": [1, 2]}',
        "--deadline",
        "5m",
    )

    assert result.exit_code == 0, result.output
    body = gateway.received("POST")[0].body
    assert body["session_name"] == "Morning stand-up"
    assert body["session_metadata"] == {"topic": "demo", "lights": [1, 2]}
    assert body["deadline"] == "5m"


def test_join_as_json_is_the_api_answer(cli: Cli, gateway: FakeGateway) -> None:
    answer = {"join_request_id": REQUEST, "deadline": "2026-11-23T10:01:00Z"}
    gateway.route("POST", "/api/v1/join-requests", Answer(202, answer))

    result = cli.run("-o", "json", *JOIN, "--deadline", "2026-11-23T10:01:00Z")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == answer


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ("[1, 2]", "is a JSON array, not an object"),
        ('"lab"', "is a JSON string, not an object"),
        ("3", "is a JSON number, not an object"),
        ("null", "is a JSON literal, not an object"),
        ("{topic: demo}", "is not valid JSON"),
        ('{"level": NaN}', "is not valid JSON (NaN is not a JSON value)"),
    ],
)
def test_metadata_must_be_a_json_object(
    cli: Cli, gateway: FakeGateway, metadata: str, problem: str
) -> None:
    result = cli.run(*JOIN, "--metadata", metadata)

    assert result.exit_code == 2
    assert "--metadata" in result.stderr
    assert problem in result.stderr
    assert gateway.received() == []


@pytest.mark.parametrize("deadline", ["60", "soon", "-5s", "0s", "2026-11-23"])
def test_deadline_must_be_a_duration_or_a_time(
    cli: Cli, gateway: FakeGateway, deadline: str
) -> None:
    result = cli.run(*JOIN, "--deadline", deadline)

    assert result.exit_code == 2
    assert "neither a duration from now" in result.stderr
    assert gateway.received() == []


@pytest.mark.parametrize("missing", ["--project", "--group", "--session"])
def test_join_needs_project_group_and_session(cli: Cli, gateway: FakeGateway, missing: str) -> None:
    options = {"--project": "site-1", "--group": "lab", "--session": "s-42"}
    del options[missing]

    result = cli.run("join", *[word for pair in options.items() for word in pair])

    assert result.exit_code == 2
    assert missing in result.stderr
    assert gateway.received() == []


def test_join_refused_by_the_gateway(cli: Cli, gateway: FakeGateway) -> None:
    detail = [{"loc": ["body", "deadline"], "msg": "at most 86400 s from now"}]
    gateway.route("POST", "/api/v1/join-requests", Answer(422, {"detail": detail}))
    refused = cli.run(*JOIN, "--deadline", "2d")
    assert refused.exit_code == 1
    assert refused.stderr == "iotctl: error: body.deadline: at most 86400 s from now (422)\n"

    gateway.route(
        "POST", "/api/v1/join-requests", Answer(503, {"detail": "broker did not confirm"})
    )
    unavailable = cli.run(*JOIN, "--wait")
    assert unavailable.exit_code == 4
    assert unavailable.stderr == (
        "iotctl: error: the gateway could not hand the join request over (503): "
        "broker did not confirm\n"
    )
    assert gateway.received("GET") == []


# join --wait


def test_wait_shows_each_change_then_the_table_and_exits_0(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route(
        "GET",
        PATH,
        join_request("pending"),
        join_request("dispatched", ("pending", None), ("pending", None)),
        join_request("dispatched", ("joined", None), ("delivered", None)),
        join_request("dispatched", ("joined", None), ("joined", None)),
    )

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 0, result.output
    assert len(gateway.received("GET", PATH)) == 4
    dev0, dev1 = device_id(0), device_id(1)
    assert result.stderr.splitlines() == [
        f"join request {REQUEST}: pending",
        f"join request {REQUEST}: pending -> dispatched, 2 device(s) targeted",
        f"cam-1 {dev0}: pending  [0/2 answered]",
        f"cam-2 {dev1}: pending  [0/2 answered]",
        f"cam-1 {dev0}: pending -> joined  [1/2 answered]",
        f"cam-2 {dev1}: pending -> delivered  [1/2 answered]",
        f"cam-2 {dev1}: delivered -> joined  [2/2 answered]",
    ]
    assert result.stdout.splitlines() == [
        "DEVICE                NAME   STATUS  REASON  ANSWERED AT",
        f"{dev0}  cam-1  joined  -       2026-11-23 10:00:01Z",
        f"{dev1}  cam-2  joined  -       2026-11-23 10:00:02Z",
    ]


def test_wait_exits_5_when_a_device_failed_or_expired(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route(
        "GET",
        PATH,
        join_request("dispatched", ("joined", None), ("failed", "no camera"), ("delivered", None)),
        join_request("closed", ("joined", None), ("failed", "no camera"), ("expired", None)),
    )

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 5
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[1:] == [
        [device_id(0), "cam-1", "joined", "-", "2026-11-23", "10:00:01Z"],
        [device_id(1), "cam-2", "failed", "no", "camera", "2026-11-23", "10:00:02Z"],
        [device_id(2), "cam-3", "expired", "-", "-"],
    ]
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: 2 of 3 device(s) did not join: cam-2 failed (no camera); cam-3 expired"
    )


def test_wait_stops_once_every_device_answered_before_the_deadline(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route("GET", PATH, join_request("dispatched", ("failed", "busy")))

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 5
    assert len(gateway.received("GET", PATH)) == 1  # answered, so no need to wait for closing
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: 1 of 1 device(s) did not join: cam-1 failed (busy)"
    )


def test_wait_as_json_prints_the_last_polled_request(cli: Cli, gateway: FakeGateway) -> None:
    final = join_request("dispatched", ("joined", None))
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route("GET", PATH, join_request("dispatched", ("delivered", None)), final)

    result = cli.run("-o", "json", *JOIN, "--wait")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == final


def test_wait_for_a_group_without_devices_warns_and_exits_0(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route("GET", PATH, join_request("dispatched"))

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "iotctl: warning: the group has no device that is not revoked; no device was asked to join"
    )


def test_wait_for_a_failed_request_exits_5(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route("GET", PATH, join_request("failed", reason="the broker did not confirm"))

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 5
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: the join request failed (the broker did not confirm); "
        "no device was asked to join"
    )


def test_wait_gives_up_when_the_request_stays_open_past_its_deadline(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joining, "CLOSE_GRACE_SECONDS", 0.2)
    deadline = _from_now(0)
    gateway.route("POST", "/api/v1/join-requests", _accepted(deadline))
    gateway.route(
        "GET",
        PATH,
        join_request("dispatched", ("joined", None), ("delivered", None), deadline=deadline),
    )

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 5
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: the join request is still dispatched 0.2 s after its deadline "
        "(is the join-dispatcher running?); 1 of 2 device(s) answered; "
        "waiting for cam-2 delivered"
    )
    assert result.stdout.splitlines()[2].split()[:3] == [device_id(1), "cam-2", "delivered"]


def test_wait_polls_at_least_once_however_late(cli: Cli, gateway: FakeGateway) -> None:
    # A deadline long past (a slow gateway, a skewed clock): the request is still shown.
    past = "2026-11-23T10:01:00Z"
    gateway.route("POST", "/api/v1/join-requests", _accepted(past))
    gateway.route("GET", PATH, join_request("closed", ("joined", None), deadline=past))

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 0, result.output
    assert len(gateway.received("GET", PATH)) == 1
    assert result.stdout.splitlines()[1].split()[:3] == [device_id(0), "cam-1", "joined"]


def test_wait_rides_out_a_gateway_outage(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route(
        "GET",
        PATH,
        Answer(503, {"detail": "database unreachable"}),
        join_request("dispatched", ("joined", None)),
    )

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 0, result.output
    assert "the gateway is unavailable (503): database unreachable; still waiting" in (
        result.stderr
    )


def test_wait_reports_an_outage_that_lasts_past_the_deadline(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joining, "CLOSE_GRACE_SECONDS", 0.1)
    gateway.route("POST", "/api/v1/join-requests", _accepted(_from_now(0)))
    gateway.route("GET", PATH, Answer(503, {"detail": "database unreachable"}))

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"iotctl: error: no answer from the gateway about join request {REQUEST} until 0.1 s "
        "after its deadline; last error: the gateway is unavailable (503): database unreachable"
    )


def test_ctrl_c_while_waiting_exits_130_and_says_how_to_follow_up(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route("GET", PATH, join_request("pending"))

    def interrupted(_seconds: float, _progress: joining.JoinProgress) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(joining, "pause", interrupted)

    result = cli.run(*JOIN, "--wait")

    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: stopped waiting; the join request goes on: "
        f"iotctl join-requests get {REQUEST} --wait"
    )


# join-requests


def test_join_requests_list(cli: Cli, gateway: FakeGateway) -> None:
    listed = join_request("closed", ("joined", None), ("expired", None))
    del listed["devices"]
    gateway.route("GET", "/api/v1/join-requests", {"join_requests": [listed]})

    result = cli.run("join-requests", "list", "--project", "site-1", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert gateway.received("GET")[0].query == {"project": ["site-1"], "limit": ["5"]}
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "ID",
        "GROUP",
        "SESSION",
        "STATUS",
        "TARGETED",
        "JOINED",
        "FAILED",
        "EXPIRED",
        "REQUESTED",
        "DEADLINE",
    ]
    assert row.split()[:8] == [REQUEST, "lab", "s-42", "closed", "2", "1", "0", "1"]


def test_join_requests_list_empty(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", "/api/v1/join-requests", {"join_requests": []})

    result = cli.run("join-requests", "list", "--project", "site-1", "--group", "lab")

    assert result.exit_code == 0
    assert gateway.received("GET")[0].query == {"project": ["site-1"], "group": ["lab"]}
    assert result.stderr == "No join requests found.\n"


def test_join_requests_get_shows_the_request_and_its_devices(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route(
        "GET",
        PATH,
        join_request(
            "closed", ("joined", None), ("failed", "no camera"), session_metadata={"topic": "x"}
        ),
    )

    result = cli.run("join-requests", "get", REQUEST)

    assert result.exit_code == 0, result.output
    fields, table = result.stdout.split("\n\n")
    assert f"join request id  {REQUEST}" in fields
    assert 'metadata         {"topic": "x"}' in fields
    assert "status           closed" in fields
    assert "answers          joined 1, failed 1, expired 0, delivered 0, pending 0" in fields
    assert table.splitlines()[0].split() == ["DEVICE", "NAME", "STATUS", "REASON", "ANSWERED", "AT"]


def test_join_requests_get_wait_exits_5_unless_all_joined(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        PATH,
        join_request("dispatched", ("delivered", None)),
        join_request("closed", ("expired", None)),
    )

    result = cli.run("join-requests", "get", REQUEST, "--wait", "-o", "json")

    assert result.exit_code == 5
    assert json.loads(result.stdout)["status"] == "closed"
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: 1 of 1 device(s) did not join: cam-1 expired"
    )


def test_join_requests_get_of_an_unknown_id_exits_1(cli: Cli) -> None:
    result = cli.run("join-requests", "get", "nope", "--wait")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: no route GET /api/v1/join-requests/nope (404)\n"


# the progress bar


def test_the_bar_shows_answered_out_of_targeted_and_the_counts() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    bar = joining.BarProgress(unicode=True)
    bar.update(
        join_request(
            "dispatched",
            ("joined", None),
            ("failed", "x"),
            ("delivered", None),
            ("pending", None),
            deadline="2026-11-23T10:00:41Z",
        )
    )

    assert bar.line(now) == (
        "⠋ [██████████░░░░░░░░░░] 2/4 answered, 41s left · "
        "joined 1 · failed 1 · expired 0 · delivered 1 · pending 1"
    )


def test_the_bar_before_dispatch_and_in_ascii() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    bar = joining.BarProgress(unicode=False)
    assert bar.line(now) == "| waiting for the gateway"

    bar.update(join_request("pending", deadline="2026-11-23T10:00:30Z"))
    assert bar.line(now) == "| waiting for the join-dispatcher, 30s left"

    bar.tick()
    bar.update(join_request("closed", ("joined", None), deadline="2026-11-23T09:59:00Z"))
    assert bar.line(now) == (
        "/ [####################] 1/1 answered, deadline passed, "
        "joined 1, failed 0, expired 0, delivered 0, pending 0"
    )


def test_a_pending_request_with_targets_shows_a_bar_but_is_not_settled() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    # The dispatcher records the targets (and devices may answer) before it marks the request
    # dispatched, once every JOIN is published.
    pending = join_request("pending", ("joined", None), deadline="2026-11-23T10:00:10Z")
    bar = joining.BarProgress(unicode=False)
    bar.update(pending)

    assert bar.line(now).startswith("| [####################] 1/1 answered, 10s left")
    assert not joining.is_settled(pending)
    assert joining.is_settled(join_request("dispatched", ("joined", None)))
    assert joining.is_settled(join_request("closed", ("delivered", None)))
    assert not joining.is_settled(join_request("dispatched", ("delivered", None)))


def test_the_bar_fits_the_terminal_and_clears_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    bar = joining.BarProgress(unicode=True)

    bar.update(join_request("dispatched", ("joined", None), ("delivered", None)))
    bar.close()

    drawn = capsys.readouterr().err
    first = drawn.split("\x1b[K")[0]
    # One column short of the terminal's width: a full line would wrap on some terminals.
    assert first == "\r" + "⠋ [██████████░░░░░░░░░░] 1/2 answered, 59s left"[:39]
    assert drawn.endswith("\r\x1b[K")


def test_join_wait_on_a_terminal_draws_the_bar(tmp_path: Path, gateway: FakeGateway) -> None:
    home = tmp_path / "home"
    config.save(
        home / ".config" / "iotctl" / "config.json",
        config.StoredConfig(api_url=gateway.url, api_key=API_KEY),
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("IOT")}
    env.pop("XDG_CONFIG_HOME", None)
    env |= {"HOME": str(home), "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"}
    gateway.route("POST", "/api/v1/join-requests", _accepted())
    gateway.route(
        "GET",
        PATH,
        join_request("dispatched", ("joined", None), ("delivered", None)),
        join_request("dispatched", ("joined", None), ("joined", None)),
    )
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "iotctl", *JOIN, "--wait"],
            env=env,
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
    assert "[██████████░░░░░░░░░░] 1/2 answered" in text
    assert "joined 1 · failed 0 · expired 0 · delivered 1 · pending 0" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end
    assert [line.split()[2] for line in stdout.splitlines()[1:]] == ["joined", "joined"]


# shell completion


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("iotctl dev", ["plain,devices"]),
        ("iotctl devices r", ["plain,register", "plain,revoke", "plain,rotate-credential"]),
        ("iotctl join-requests ", ["plain,get", "plain,list"]),
        ("iotctl join --dead", ["plain,--deadline"]),
    ],
)
def test_completion_offers_the_new_commands(words: str, expected: list[str]) -> None:
    completing = {
        **os.environ,
        "_IOTCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-m", "iotctl"],
        env=completing,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
