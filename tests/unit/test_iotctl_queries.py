"""iotctl get/delete/targets/measurements/logs/api-keys/completion, via click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from iotctl.commands import data

from tests.unit.test_iotctl_fake_gateway import (
    Answer,
    Cli,
    FakeGateway,
    Request,
    command,
    isolated_cli,
    running_gateway,
    sensor,
)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    return isolated_cli(tmp_path, monkeypatch, gateway)


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


# get sensors / get sensor / delete


def test_get_sensors_follows_next_after_and_passes_the_filters(
    cli: Cli, gateway: FakeGateway
) -> None:
    recent = (datetime.now(UTC) - timedelta(seconds=12)).isoformat()

    def pages(request: Request) -> Answer:
        if request.param("after") is None:
            return Answer(body={"sensors": [sensor("a", last_seen_at=recent)], "next_after": "a"})
        return Answer(body={"sensors": [sensor("b", target=None)], "next_after": None})

    gateway.handle("GET", "/api/v1/sensors", pages)

    result = cli.run("get", "sensors", "--target", "pump-1", "--state", "online", "--online")

    assert result.exit_code == 0, result.output
    first, second = gateway.received("GET", "/api/v1/sensors")
    assert first.query == {
        "target": ["pump-1"],
        "state": ["online"],
        "online": ["true"],
        "limit": ["1000"],
    }
    assert second.param("after") == "a"
    rows = _rows(result.stdout)
    header = "SERIAL KIND TARGET STATE LAST SEEN SAMPLE HZ ASLEEP IN SYNC"
    assert rows[0] == header.split()
    assert rows[1][:4] == ["a", "accelerometer", "pump-1", "online"]
    assert rows[1][4:7] in (["12s", "ago", "200"], ["13s", "ago", "200"])
    assert rows[2][2] == "-"  # no target


def test_get_sensors_json_is_one_document_with_every_page(cli: Cli, gateway: FakeGateway) -> None:
    def pages(request: Request) -> Answer:
        if request.param("after") is None:
            return Answer(body={"sensors": [sensor("a")], "next_after": "a"})
        return Answer(body={"sensors": [sensor("b")], "next_after": None})

    gateway.handle("GET", "/api/v1/sensors", pages)

    result = cli.run("get", "sensors", "--offline", "-o", "json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == {"sensors": [sensor("a"), sensor("b")], "next_after": None}
    assert gateway.received()[0].param("online") == "false"


def test_get_sensors_with_none_says_so_on_stderr(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", "/api/v1/sensors", {"sensors": [], "next_after": None})

    result = cli.run("get", "sensors")

    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No sensors found.\n")


def test_get_sensor_shows_desired_reported_and_recent_commands(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route(
        "GET",
        "/api/v1/sensors/sim 1/hz",
        sensor(
            "sim 1/hz",
            desired={
                "asleep": True,
                "sample_frequency_hz": None,
                "updated_at": "2026-11-23T10:00:05Z",
            },
            in_sync=False,
            recent_commands=[command("c-9", "sim 1/hz", "delivered")],
        ),
    )

    result = cli.run("get", "sensor", "sim 1/hz")

    assert result.exit_code == 0, result.output
    # The serial is escaped in the path: the server saw one path segment.
    assert gateway.received()[0].path == "/api/v1/sensors/sim 1/hz"
    out = result.stdout
    assert "serial number     sim 1/hz" in out
    assert "in sync           no" in out
    assert "last seen         2026-11-23 10:00:00Z (" in out
    assert _rows(out)[_rows(out).index(["DESIRED", "REPORTED"]) + 1] == ["asleep", "yes", "no"]
    assert ["sample", "Hz", "-", "200"] in _rows(out)
    assert "Recent commands:" in out
    assert ["c-9", "sleep", "-", "delivered", "2026-11-23", "10:00:00Z", "-", "ops-key", "-"] in (
        _rows(out)
    )


def test_delete_asks_first_and_a_no_sends_nothing(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("delete", "-s", "sim-1hz", input="n\n")

    assert result.exit_code == 1
    assert "Delete sensor sim-1hz" in result.output
    assert "iotctl: error: not confirmed; nothing was deleted" in result.stderr
    assert gateway.received("DELETE") == []


def test_delete_with_yes_sends_the_delete(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("DELETE", "/api/v1/sensors/sim-1hz", Answer(204))

    result = cli.run("delete", "-s", "sim-1hz", "--yes")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted sensor sim-1hz.\n"
    assert len(gateway.received("DELETE", "/api/v1/sensors/sim-1hz")) == 1


def test_delete_with_end_of_input_at_the_prompt_is_a_usage_error(
    cli: Cli, gateway: FakeGateway
) -> None:
    result = cli.run("delete", "-s", "sim-1hz", input="")

    assert result.exit_code == 2
    assert "no answer to a prompt" in result.stderr
    assert gateway.received("DELETE") == []


# targets


def test_targets_list_create_delete(cli: Cli, gateway: FakeGateway) -> None:
    target = {
        "name": "pump-1",
        "latitude": 48.1,
        "longitude": 11.6,
        "created_at": "2026-11-23T09:00:00Z",
        "sensor_count": 2,
    }
    gateway.route(
        "GET",
        "/api/v1/targets",
        {
            "targets": [
                target,
                {**target, "name": "fan", "latitude": None, "longitude": None, "sensor_count": 0},
            ]
        },
    )
    gateway.route("POST", "/api/v1/targets", Answer(201, target))
    gateway.route("DELETE", "/api/v1/targets/pump-1", Answer(204))

    listed = cli.run("targets", "list")
    assert listed.exit_code == 0, listed.output
    assert _rows(listed.stdout) == [
        ["NAME", "LATITUDE", "LONGITUDE", "SENSORS", "CREATED"],
        ["pump-1", "48.1", "11.6", "2", "2026-11-23", "09:00:00Z"],
        ["fan", "-", "-", "0", "2026-11-23", "09:00:00Z"],
    ]

    created = cli.run("targets", "create", "pump-1", "--latitude", "48.1", "--longitude", "11.6")
    assert created.exit_code == 0, created.output
    assert gateway.received("POST")[0].body == {
        "name": "pump-1",
        "latitude": 48.1,
        "longitude": 11.6,
    }

    deleted = cli.run("targets", "delete", "pump-1")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted target pump-1" in deleted.stdout


def test_targets_create_needs_both_coordinates_or_neither(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("targets", "create", "pump-1", "--latitude", "48.1")

    assert result.exit_code == 2
    assert "give both --latitude and --longitude, or neither" in result.stderr
    assert gateway.received() == []


def test_targets_create_of_an_existing_name_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/targets", Answer(409, {"detail": "target pump-1 exists"}))

    result = cli.run("targets", "create", "pump-1")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: target pump-1 exists (409)\n"
    assert gateway.received("POST")[0].body == {"name": "pump-1"}


def test_targets_assign_and_unassign_put_each_sensor(cli: Cli, gateway: FakeGateway) -> None:
    def put(request: Request) -> Answer:
        serial = request.path.split("/")[4]
        return Answer(body=sensor(serial, target=request.body["target"]))

    gateway.handle("PUT", "/api/v1/sensors/a/target", put)
    gateway.handle("PUT", "/api/v1/sensors/b/target", put)

    assigned = cli.run("targets", "assign", "pump-2", "-s", "a", "-s", "b")
    assert assigned.exit_code == 0, assigned.output
    assert _rows(assigned.stdout) == [["SERIAL", "TARGET"], ["a", "pump-2"], ["b", "pump-2"]]
    assert [r.body for r in gateway.received("PUT")] == [{"target": "pump-2"}] * 2

    unassigned = cli.run("-o", "json", "targets", "unassign", "-s", "a")
    assert unassigned.exit_code == 0, unassigned.output
    assert json.loads(unassigned.stdout) == {"sensors": [sensor("a", target=None)]}
    assert gateway.received("PUT")[-1].body == {"target": None}


def test_targets_assign_names_the_sensor_that_failed(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("PUT", "/api/v1/sensors/a/target", sensor("a", target="pump-2"))
    gateway.route("PUT", "/api/v1/sensors/b/target", Answer(404, {"detail": "unknown target"}))

    result = cli.run("targets", "assign", "pump-2", "-s", "a", "-s", "b")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: b: unknown target (404) (already done: a)\n"


# measurements


def test_measurements_raw_table_with_a_common_precision(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/sensors/sim-5khz/measurements",
        {
            "serial_number": "sim-5khz",
            "since": "2026-11-23T10:00:00Z",
            "until": "2026-11-23T10:10:00Z",
            "bucket": None,
            "samples": [
                {"time": "2026-11-23T10:00:00Z", "value": 0.5},
                {"time": "2026-11-23T10:00:00.0002Z", "value": -1.25},
            ],
            "truncated": True,
        },
    )

    result = cli.run("measurements", "sim-5khz", "--since", "10m", "--limit", "2")

    assert result.exit_code == 0, result.output
    assert gateway.received()[0].query == {"since": ["10m"], "limit": ["2"]}
    assert result.stdout.splitlines() == [
        "TIME                         VALUE",
        "2026-11-23 10:00:00.000000Z    0.5",
        "2026-11-23 10:00:00.000200Z  -1.25",
    ]
    assert "iotctl: warning: truncated after 2 rows" in result.stderr


def test_measurements_buckets(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/sensors/s/measurements",
        {
            "serial_number": "s",
            "since": "2026-11-23T10:00:00Z",
            "until": "2026-11-23T10:00:02Z",
            "bucket": "1s",
            "buckets": [
                {"time": "2026-11-23T10:00:00Z", "min": -1.0, "max": 2.0, "avg": 0.25, "count": 200}
            ],
            "truncated": False,
        },
    )

    result = cli.run("measurements", "s", "--since", "2026-11-23T10:00:00Z", "--bucket", "1s")

    assert result.exit_code == 0, result.output
    assert gateway.received()[0].query == {"since": ["2026-11-23T10:00:00Z"], "bucket": ["1s"]}
    assert _rows(result.stdout) == [
        ["TIME", "MIN", "MAX", "AVG", "COUNT"],
        ["2026-11-23", "10:00:00Z", "-1", "2", "0.25", "200"],
    ]
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--since", "10"),
        ("--since", "ten minutes"),
        ("--since", "0m"),
        ("--since", "2026-11-23"),
        ("--since", "2026-11-23T10:00:00"),  # no offset
        ("--until", "yesterday"),
        ("--bucket", "0s"),
        ("--bucket", "1y"),
    ],
)
def test_measurements_rejects_bad_durations_before_asking(
    cli: Cli, gateway: FakeGateway, option: str, value: str
) -> None:
    result = cli.run("measurements", "s", option, value)

    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert gateway.received() == []


# logs


def _log(second: int, sequence: int, message: str, level: str = "info") -> dict[str, Any]:
    return {
        "time": f"2026-11-23T10:00:{second:02d}.250Z",
        "sequence": sequence,
        "level": level,
        "message": message,
    }


def test_logs_prints_aligned_lines(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/sensors/s/logs",
        {"logs": [_log(1, 1, "System powering on"), _log(2, 2, "Battery low", "warning")]},
    )

    result = cli.run("logs", "s", "--level", "info", "--since", "1h")

    assert result.exit_code == 0, result.output
    assert gateway.received()[0].query == {"level": ["info"], "since": ["1h"]}
    assert result.stdout.splitlines() == [
        "2026-11-23 10:00:01.250Z  info     System powering on",
        "2026-11-23 10:00:02.250Z  warning  Battery low",
    ]


def test_logs_follow_prints_each_line_once_and_ends_cleanly_on_ctrl_c(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every poll overlaps the one before, as the lookback makes the real gateway's answers do.
    gateway.route(
        "GET",
        "/api/v1/sensors/s/logs",
        {"logs": [_log(1, 1, "one"), _log(2, 2, "two")]},
        {"logs": [_log(2, 2, "two"), _log(2, 3, "three, same time")]},
        {"logs": [_log(2, 3, "three, same time"), _log(4, 4, "four")]},
    )
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does

    monkeypatch.setattr(data, "_sleep", sleep)

    result = cli.run("logs", "s", "--follow", "--since", "1m")

    assert result.exit_code == 0, result.output
    assert [line[35:] for line in result.stdout.splitlines()] == [
        "one",
        "two",
        "three, same time",
        "four",
    ]
    first, second, third = gateway.received()
    assert first.param("since") == "1m"
    # Later polls ask from the newest line seen, minus the lookback.
    assert second.param("since") == "2026-11-23T09:59:57.250000Z"
    assert third.param("since") == "2026-11-23T09:59:57.250000Z"
    assert polls == [1.0, 1.0, 1.0]


def test_logs_follow_as_json_lines(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.route("GET", "/api/v1/sensors/s/logs", {"logs": [_log(1, 1, "one")]})

    def sleep(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_sleep", sleep)

    result = cli.run("-o", "json", "logs", "s", "-f")

    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [_log(1, 1, "one")]


# api-keys


def test_api_keys_create_shows_the_key_once(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST",
        "/api/v1/api-keys",
        Answer(
            201,
            {
                "id": 7,
                "name": "ci",
                "role": "viewer",
                "prefix": "iot_ab12",
                "created_at": "2026-11-23T10:00:00Z",
                "expires_at": "2027-02-21T10:00:00Z",
                "key": "iot_ab12secret",
            },
        ),
    )

    result = cli.run(
        "api-keys", "create", "--name", "ci", "--role", "viewer", "--expires-in-days", "90"
    )

    assert result.exit_code == 0, result.output
    assert gateway.received()[0].body == {"name": "ci", "role": "viewer", "expires_in_days": 90}
    assert "key      iot_ab12secret" in result.stdout
    assert "shown only this once" in result.stderr


def test_api_keys_list_and_revoke(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/api-keys",
        {
            "api_keys": [
                {
                    "id": 7,
                    "name": "ci",
                    "role": "viewer",
                    "prefix": "iot_ab12",
                    "created_at": "2026-11-23T10:00:00Z",
                    "expires_at": None,
                    "revoked_at": None,
                    "last_used_at": None,
                }
            ]
        },
    )
    gateway.route("DELETE", "/api/v1/api-keys/7", Answer(204))

    listed = cli.run("api-keys", "list")
    assert listed.exit_code == 0, listed.output
    assert _rows(listed.stdout)[1] == [
        "7",
        "ci",
        "viewer",
        "iot_ab12",
        "2026-11-23",
        "10:00:00Z",
        "-",
        "-",
        "-",
    ]

    revoked = cli.run("api-keys", "revoke", "7")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == "Revoked API key 7.\n"


def test_api_keys_create_needs_a_known_role(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("api-keys", "create", "--name", "x", "--role", "root")

    assert result.exit_code == 2
    assert gateway.received() == []


# completion and version


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _iotctl_completion iotctl"),
        ("zsh", "#compdef iotctl"),
        ("fish", "complete --no-files --command iotctl"),
    ],
)
def test_completion_prints_the_script(cli: Cli, shell: str, marker: str) -> None:
    result = cli.run("completion", shell)

    assert result.exit_code == 0, result.output
    assert marker in result.stdout
    assert "_IOTCTL_COMPLETE" in result.stdout


def test_completion_of_an_unknown_shell_is_a_usage_error(cli: Cli) -> None:
    assert cli.run("completion", "tcsh").exit_code == 2


def test_version(cli: Cli) -> None:
    result = cli.run("--version")

    assert result.exit_code == 0
    assert result.stdout.startswith("iotctl ")
