"""iotctl sleep/awake/change-sample-frequency, --wait and `commands status`, via CliRunner.

Also the error classes: each answer class of the contract maps to its exit code and a
one-line `iotctl: error: ...` on stderr, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from iotctl import waiting

from tests.unit.test_iotctl_fake_gateway import (
    Answer,
    Cli,
    FakeGateway,
    command,
    isolated_cli,
    running_gateway,
)

C1 = "0b5e1f3c-1111-4000-8000-000000000001"
C2 = "0b5e1f3c-2222-4000-8000-000000000002"
REQUEST_ID = "7d0c6a52-0000-4000-8000-000000000001"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    monkeypatch.setattr(waiting, "POLL_INTERVAL_SECONDS", 0.01)
    return isolated_cli(tmp_path, monkeypatch, gateway)


def _accepted(*commands: dict[str, object]) -> Answer:
    return Answer(202, {"request_id": REQUEST_ID, "commands": list(commands)})


def test_sleep_posts_one_command_and_prints_its_id(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))

    result = cli.run("sleep", "-s", "sim-1hz", "--ttl", "600")

    assert result.exit_code == 0, result.output
    (post,) = gateway.received("POST", "/api/v1/commands")
    assert post.body == {"action": "sleep", "serial_number": "sim-1hz", "ttl_seconds": 600}
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SERIAL", "COMMAND", "ID", "STATUS"]
    assert lines[1].split() == ["sim-1hz", C1, "pending"]
    # Columns are aligned: the header's second column starts where the values' does.
    assert lines[0].index("COMMAND ID") == lines[1].index(C1)


def test_awake_for_a_target_prints_one_row_per_sensor(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST",
        "/api/v1/commands",
        _accepted(command(C1, "a-1", action="awake"), command(C2, "a-22", action="awake")),
    )

    result = cli.run("awake", "--target", "pump-1")

    assert result.exit_code == 0, result.output
    assert gateway.received("POST")[0].body == {"action": "awake", "target": "pump-1"}
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["a-1", C1],
        ["a-22", C2],
    ]


def test_change_sample_frequency_for_all_sends_the_rate(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))

    result = cli.run("change-sample-frequency", "--all", "-f", "12.5")

    assert result.exit_code == 0, result.output
    assert gateway.received("POST")[0].body == {
        "action": "change_sample_frequency",
        "sample_frequency_hz": 12.5,
        "all": True,
    }


@pytest.mark.parametrize(
    "selection",
    [
        [],
        ["-s", "sim-1hz", "--all"],
        ["-s", "sim-1hz", "--target", "pump-1"],
        ["--target", "pump-1", "--all"],
    ],
)
def test_not_exactly_one_selector_is_a_usage_error(
    cli: Cli, gateway: FakeGateway, selection: list[str]
) -> None:
    result = cli.run("sleep", *selection)

    assert result.exit_code == 2
    assert "give exactly one of -s/--serial SN, --target T or --all" in result.stderr
    assert gateway.received() == []


@pytest.mark.parametrize("hz", ["0", "-1", "nan", "inf", "fast"])
def test_a_frequency_that_is_not_positive_is_a_usage_error(
    cli: Cli, gateway: FakeGateway, hz: str
) -> None:
    result = cli.run("change-sample-frequency", "-s", "x", "-f", hz)

    assert result.exit_code == 2
    assert "--frequency" in result.stderr
    assert gateway.received() == []


def test_timeout_without_wait_is_a_usage_error(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("sleep", "--all", "--timeout", "5")

    assert result.exit_code == 2
    assert "--timeout only applies with --wait" in result.stderr


def test_json_output_is_the_api_document(cli: Cli, gateway: FakeGateway) -> None:
    answer = {"request_id": REQUEST_ID, "commands": [command(C1, "sim-1hz")]}
    gateway.route("POST", "/api/v1/commands", Answer(202, answer))

    result = cli.run("sleep", "-s", "sim-1hz", "-o", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == answer


def test_503_exits_4_with_the_gateways_detail(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", Answer(503, {"detail": "broker unreachable"}))

    result = cli.run("sleep", "-s", "sim-1hz")

    assert result.exit_code == 4
    assert result.stderr == (
        "iotctl: error: the gateway could not publish the command (503): broker unreachable\n"
    )
    assert result.stdout == ""


def test_a_422_list_detail_is_rendered_on_one_line(cli: Cli, gateway: FakeGateway) -> None:
    detail = [
        {"type": "less_than_equal", "loc": ["body", "sample_frequency_hz"], "msg": "too high"},
        {"type": "missing", "loc": ["body", "serial_number"], "msg": "Field required"},
    ]
    gateway.route("POST", "/api/v1/commands", Answer(422, {"detail": detail}))

    result = cli.run("change-sample-frequency", "-s", "x", "-f", "99999")

    assert result.exit_code == 1
    assert result.stderr == (
        "iotctl: error: body.sample_frequency_hz: too high; "
        "body.serial_number: Field required (422)\n"
    )


def test_a_422_string_detail_is_shown_as_is(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", Answer(422, {"detail": "ttl_seconds: at most 86400"}))

    result = cli.run("sleep", "--all")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: ttl_seconds: at most 86400 (422)\n"


def test_403_exits_3(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", Answer(403, {"detail": "viewer may not command"}))

    result = cli.run("sleep", "--all")

    assert result.exit_code == 3
    assert result.stderr == "iotctl: error: permission denied (403): viewer may not command\n"


def test_404_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", Answer(404, {"detail": "unknown sensor 'nope'"}))

    result = cli.run("sleep", "-s", "nope")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: unknown sensor 'nope' (404)\n"


def test_a_500_without_json_and_a_non_json_success_exit_4(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST", "/api/v1/commands", Answer(500, raw=b"<html>oops</html>", content_type="text/html")
    )
    failed = cli.run("sleep", "--all")
    assert failed.exit_code == 4
    assert failed.stderr == "iotctl: error: the gateway failed (500): Internal Server Error\n"

    gateway.route("POST", "/api/v1/commands", Answer(202, raw=b"{not json"))
    garbled = cli.run("sleep", "--all")
    assert garbled.exit_code == 4
    assert "sent a response that is not JSON" in garbled.stderr
    assert "Traceback" not in garbled.output


def test_nothing_matched_warns_and_sends_nothing(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted())

    result = cli.run("sleep", "--target", "empty", "--wait")

    assert result.exit_code == 0
    assert "no sensor matched; nothing was sent" in result.stderr


def test_wait_polls_until_applied_and_shows_status_changes(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        command(C1, "sim-1hz", "pending"),
        command(C1, "sim-1hz", "delivered"),
        command(C1, "sim-1hz", "applied"),
    )

    result = cli.run("sleep", "-s", "sim-1hz", "--wait")

    assert result.exit_code == 0, result.output
    assert len(gateway.received("GET", f"/api/v1/commands/{C1}")) == 3
    # stderr is not a terminal here: one plain line per status change, no spinner.
    assert result.stderr.splitlines() == [
        f"sim-1hz {C1}: pending",
        f"sim-1hz {C1}: pending -> delivered",
        f"sim-1hz {C1}: delivered -> applied",
    ]
    assert result.stdout.splitlines()[1].split() == ["sim-1hz", C1, "applied"]


def test_wait_exits_5_when_a_command_is_rejected(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "a"), command(C2, "b")))
    gateway.route("GET", f"/api/v1/commands/{C1}", command(C1, "a", "applied"))
    gateway.route(
        "GET",
        f"/api/v1/commands/{C2}",
        command(C2, "b", "delivered"),
        command(C2, "b", "rejected", reason="frequency above the sensor's maximum"),
    )

    result = cli.run("-o", "json", "sleep", "--all", "--wait")

    assert result.exit_code == 5
    document = json.loads(result.stdout)
    assert [c["status"] for c in document["commands"]] == ["applied", "rejected"]
    assert document["request_id"] == REQUEST_ID
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: 1 of 2 command(s) did not apply: "
        "b rejected (frequency above the sensor's maximum)"
    )
    # A final command is not polled again.
    assert len(gateway.received("GET", f"/api/v1/commands/{C1}")) == 1


def test_wait_times_out_with_exit_5(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))
    gateway.route("GET", f"/api/v1/commands/{C1}", command(C1, "sim-1hz", "delivered"))

    result = cli.run("sleep", "-s", "sim-1hz", "--wait", "--timeout", "0.1")

    assert result.exit_code == 5
    assert result.stderr.splitlines()[-1] == (
        "iotctl: error: timed out after 0.1 s with 1 of 1 command(s) not final (delivered 1)"
    )
    assert result.stdout.splitlines()[1].split() == ["sim-1hz", C1, "delivered"]


def test_wait_rides_out_a_gateway_outage(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        Answer(503, {"detail": "database unreachable"}),
        command(C1, "sim-1hz", "applied"),
    )

    result = cli.run("sleep", "-s", "sim-1hz", "--wait")

    assert result.exit_code == 0, result.output
    assert "the gateway is unavailable (503): database unreachable; still waiting" in (
        result.stderr
    )


def test_ctrl_c_while_waiting_exits_130_and_says_how_to_follow_up(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.route("POST", "/api/v1/commands", _accepted(command(C1, "sim-1hz")))

    def interrupted(_seconds: float, _progress: waiting.Progress) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(waiting, "pause", interrupted)

    result = cli.run("sleep", "-s", "sim-1hz", "--wait")

    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == (
        f"iotctl: error: stopped waiting; the commands go on: iotctl commands status {C1}"
    )


def test_commands_status_shows_the_fields(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET", f"/api/v1/commands/{C1}", command(C1, "sim-1hz", "applied", issued_by="ci")
    )

    result = cli.run("commands", "status", C1)

    assert result.exit_code == 0, result.output
    fields = {line[:14].strip(): line[14:].strip() for line in result.stdout.splitlines() if line}
    assert fields["command id"] == C1
    assert fields["status"] == "applied"
    assert fields["issued by"] == "ci"
    assert fields["issued"] == "2026-11-23 10:00:00Z"
    assert fields["reason"] == "-"
    assert fields["reported"] == "asleep yes, sample Hz 200"


def test_commands_status_wait_exits_5_on_expiry(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        f"/api/v1/commands/{C1}",
        command(C1, "sim-1hz", "pending"),
        command(C1, "sim-1hz", "expired", reason="ttl passed before delivery"),
    )

    result = cli.run("commands", "status", C1, "--wait", "-o", "json")

    assert result.exit_code == 5
    assert json.loads(result.stdout)["status"] == "expired"
    assert "1 of 1 command(s) did not apply: sim-1hz expired" in result.stderr


def test_commands_status_of_an_unknown_id_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("commands", "status", "nope")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: no route GET /api/v1/commands/nope (404)\n"


def test_spinner_shows_counts_and_clears_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    progress = waiting.SpinnerProgress(10, unicode=True)
    commands = (
        [command("p", "s", "pending")]
        + [command(f"d{i}", "s", "delivered") for i in range(2)]
        + [command(f"a{i}", "s", "applied") for i in range(7)]
    )

    progress.update(commands)
    progress.tick()
    progress.close()

    drawn = capsys.readouterr().err
    assert "⠋ waiting for 10 commands: pending 1 · delivered 2 · applied 7" in drawn
    assert "⠙ waiting for 10 commands" in drawn
    assert drawn.endswith("\r\x1b[K")
