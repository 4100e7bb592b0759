"""iotctl projects, groups and devices (register, list, get, revoke, rotate-credential).

In-process through click's CliRunner against the fake gateway of test_iotctl_fake_gateway;
the canned documents below are shaped as the issue 4 contract (SPEC.md, "HTTP API") says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_iotctl_fake_gateway import (
    T0,
    Answer,
    Cli,
    FakeGateway,
    isolated_cli,
    running_gateway,
)

DEV1 = "dev-0123456789abcdef"
DEV2 = "dev-fedcba9876543210"
SECRET = "s3cr3t-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    return isolated_cli(tmp_path, monkeypatch, gateway)


def device(device_id: str = DEV1, name: str = "cam-1", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": device_id,
        "project": "site-1",
        "group": "lab",
        "name": name,
        "comments": "",
        "registered_at": T0,
        "credential_rotated_at": None,
        "revoked_at": None,
        "last_seen_at": None,
        "online": False,
    }
    document.update(overrides)
    return document


def registered(device_id: str = DEV1, **overrides: Any) -> dict[str, Any]:
    credential = {"username": device_id, "password": SECRET, "vhost": "/"}
    return {**device(device_id, **overrides), "credential": credential}


def group(name: str = "lab", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "project": "site-1",
        "name": name,
        "comments": "",
        "created_at": T0,
        "devices": 0,
        "online": 0,
    }
    document.update(overrides)
    return document


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip()]


def _fields(text: str) -> dict[str, str]:
    """A `render_fields` block as {name: value}; names may hold one space ("last seen")."""
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition("  ")
        if name:
            fields[name.strip()] = value.strip()
    return fields


# projects


def test_projects_list_table_and_json(cli: Cli, gateway: FakeGateway) -> None:
    listing = {
        "projects": [
            {"id": "site-1", "name": "Site one", "created_at": T0, "groups": 2, "devices": 14}
        ]
    }
    gateway.route("GET", "/api/v1/projects", listing)

    table = cli.run("projects", "list")
    as_json = cli.run("projects", "list", "-o", "json")

    assert table.exit_code == 0, table.output
    assert _rows(table.stdout) == [
        ["ID", "NAME", "GROUPS", "DEVICES", "CREATED"],
        ["site-1", "Site", "one", "2", "14", "2026-11-23", "10:00:00Z"],
    ]
    assert json.loads(as_json.stdout) == listing


def test_projects_list_without_any_says_so_on_stderr(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", "/api/v1/projects", {"projects": []})

    result = cli.run("projects", "list")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "No projects found.\n"


def test_projects_create_posts_id_and_name(cli: Cli, gateway: FakeGateway) -> None:
    created = {"id": "site-1", "name": "Site one", "created_at": T0}
    gateway.route("POST", "/api/v1/projects", Answer(201, created))

    result = cli.run("projects", "create", "site-1", "--name", "Site one")

    assert result.exit_code == 0, result.output
    assert gateway.received("POST")[0].body == {"id": "site-1", "name": "Site one"}
    assert _rows(result.stdout)[1] == ["site-1", "Site", "one", "-", "-", "2026-11-23", "10:00:00Z"]


def test_projects_create_of_an_existing_id_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST", "/api/v1/projects", Answer(409, {"detail": "project 'site-1' exists already"})
    )

    result = cli.run("projects", "create", "site-1", "--name", "x")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: project 'site-1' exists already (409)\n"


def test_projects_create_needs_a_name(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("projects", "create", "site-1")

    assert result.exit_code == 2
    assert "--name" in result.stderr
    assert gateway.received() == []


# groups


def test_groups_list_shows_counts_and_one_line_comments(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/projects/site-1/groups",
        {"groups": [group(devices=3, online=2, comments="north wing\nsecond floor")]},
    )

    result = cli.run("groups", "list", "--project", "site-1")

    assert result.exit_code == 0, result.output
    assert _rows(result.stdout) == [
        ["PROJECT", "GROUP", "DEVICES", "ONLINE", "CREATED", "COMMENTS"],
        ["site-1", "lab", "3", "2", "2026-11-23", "10:00:00Z", "north", "wing", "second", "floor"],
    ]


def test_groups_list_needs_a_project(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("groups", "list")

    assert result.exit_code == 2
    assert "--project" in result.stderr
    assert gateway.received() == []


def test_groups_create_sends_comments_only_when_given(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/projects/site-1/groups", Answer(201, group()))

    plain = cli.run("groups", "create", "--project", "site-1", "lab")
    commented = cli.run(
        "groups", "create", "--project", "site-1", "lab", "--comments", "the lab", "-o", "json"
    )

    assert plain.exit_code == 0, plain.output
    assert commented.exit_code == 0, commented.output
    assert [request.body for request in gateway.received("POST")] == [
        {"name": "lab"},
        {"name": "lab", "comments": "the lab"},
    ]
    assert _rows(plain.stdout)[1][:4] == ["site-1", "lab", "0", "0"]
    assert json.loads(commented.stdout) == group()


def test_groups_create_in_an_unknown_project_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST", "/api/v1/projects/nope/groups", Answer(404, {"detail": "no project 'nope'"})
    )

    result = cli.run("groups", "create", "--project", "nope", "lab")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: no project 'nope' (404)\n"


# devices register


def test_register_prints_the_device_and_its_credential_once(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/projects/site-1/devices", Answer(201, registered()))

    result = cli.run(
        "devices",
        "register",
        "--project",
        "site-1",
        "--group",
        "lab",
        "--name",
        "cam-1",
        "--comments",
        "above the door",
    )

    assert result.exit_code == 0, result.output
    assert gateway.received("POST")[0].body == {
        "name": "cam-1",
        "group": "lab",
        "comments": "above the door",
    }
    device_block, credential_block = result.stdout.split("\n\n")
    assert _fields(device_block)["id"] == DEV1
    assert _fields(device_block)["group"] == "lab"
    assert _fields(device_block)["registered"] == "2026-11-23 10:00:00Z"
    heading, *credential_lines = credential_block.splitlines()
    assert heading == "Broker credential (shown this once only):"
    assert _fields("\n".join(credential_lines)) == {
        "username": DEV1,
        "password": SECRET,
        "vhost": "/",
    }
    assert result.stdout.count(SECRET) == 1
    assert SECRET not in result.stderr
    assert result.stderr == (
        "iotctl: warning: the password is shown only this once and cannot be shown again; "
        f"store it now (`iotctl devices rotate-credential {DEV1}` replaces a lost one)\n"
    )


def test_register_as_json_is_the_api_document_with_the_credential(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route("POST", "/api/v1/projects/site-1/devices", Answer(201, registered()))

    result = cli.run(
        "-o", "json", "devices", "register", "--project", "site-1", "--group", "lab", "--name", "c"
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == registered()
    assert document["credential"] == {"username": DEV1, "password": SECRET, "vhost": "/"}
    assert gateway.received("POST")[0].body == {"name": "c", "group": "lab"}
    assert "cannot be shown again" in result.stderr


def test_register_in_an_unknown_group_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "POST",
        "/api/v1/projects/site-1/devices",
        Answer(404, {"detail": "no group 'nope' in project 'site-1'"}),
    )

    result = cli.run(
        "devices", "register", "--project", "site-1", "--group", "nope", "--name", "cam-1"
    )

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: no group 'nope' in project 'site-1' (404)\n"


def test_register_answer_without_a_credential_exits_4(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", "/api/v1/projects/site-1/devices", Answer(201, device()))

    result = cli.run("devices", "register", "--project", "site-1", "--group", "lab", "--name", "c")

    assert result.exit_code == 4
    assert "has no credential" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("missing", ["--project", "--group", "--name"])
def test_register_needs_project_group_and_name(
    cli: Cli, gateway: FakeGateway, missing: str
) -> None:
    options = {"--project": "site-1", "--group": "lab", "--name": "cam-1"}
    del options[missing]

    result = cli.run("devices", "register", *[word for pair in options.items() for word in pair])

    assert result.exit_code == 2
    assert missing in result.stderr
    assert gateway.received() == []


# devices list and get


def test_devices_list_table(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/projects/site-1/devices",
        {
            "devices": [
                device(DEV1, "cam-1"),
                device(DEV2, "cam-2", group="hall", revoked_at="2026-11-23T11:00:00Z"),
            ]
        },
    )

    result = cli.run(
        "devices", "list", "--project", "site-1", "--group", "lab", "--include-revoked"
    )

    assert result.exit_code == 0, result.output
    (request,) = gateway.received("GET")
    assert request.query == {"group": ["lab"], "include_revoked": ["true"]}
    assert _rows(result.stdout) == [
        ["ID", "NAME", "GROUP", "ONLINE", "LAST", "SEEN", "REGISTERED", "REVOKED"],
        [DEV1, "cam-1", "lab", "no", "-", "2026-11-23", "10:00:00Z", "-"],
        [DEV2, "cam-2", "hall", "no", "-", "2026-11-23", "10:00:00Z", "2026-11-23", "11:00:00Z"],
    ]


def test_devices_list_shows_presence(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        "/api/v1/projects/site-1/devices",
        {"devices": [device(online=True, last_seen_at="2026-11-23T10:00:00Z")]},
    )

    result = cli.run("devices", "list", "--project", "site-1")

    assert result.exit_code == 0, result.output
    assert gateway.received("GET")[0].query == {}
    row = _rows(result.stdout)[1]
    assert row[3] == "yes"
    assert row[5] == "ago"  # "<n>d ago": the canned time is in the past


def test_devices_list_as_json_and_empty(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", "/api/v1/projects/site-1/devices", {"devices": []})

    as_json = cli.run("devices", "list", "--project", "site-1", "-o", "json")
    table = cli.run("devices", "list", "--project", "site-1", "--group", "lab")

    assert json.loads(as_json.stdout) == {"devices": []}
    assert table.exit_code == 0
    assert table.stdout == ""
    assert table.stderr == "No devices in group lab of project site-1.\n"


def test_devices_get_shows_the_fields(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route(
        "GET",
        f"/api/v1/devices/{DEV1}",
        device(comments="above the door", credential_rotated_at="2026-11-23T10:30:00Z"),
    )

    result = cli.run("devices", "get", DEV1)

    assert result.exit_code == 0, result.output
    fields = _fields(result.stdout)
    assert fields["id"] == DEV1
    assert fields["comments"] == "above the door"
    assert fields["online"] == "no"
    assert fields["last seen"] == "-"
    assert fields["credential rotated"] == "2026-11-23 10:30:00Z"
    assert fields["revoked"] == "-"


def test_devices_get_of_an_unknown_device_exits_1(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("devices", "get", "dev-nope")

    assert result.exit_code == 1
    assert result.stderr == "iotctl: error: no route GET /api/v1/devices/dev-nope (404)\n"


# devices revoke and rotate-credential


def test_revoke_asks_first_and_a_no_revokes_nothing(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", f"/api/v1/devices/{DEV1}", device())

    result = cli.run("devices", "revoke", DEV1, input="n\n")

    assert result.exit_code == 1
    assert f"Revoke device {DEV1} (cam-1, group lab of project site-1)?" in result.output
    assert "iotctl: error: not confirmed; nothing was revoked" in result.stderr
    assert gateway.received("POST") == []


def test_revoke_confirmed_posts_and_reports(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("GET", f"/api/v1/devices/{DEV1}", device())
    gateway.route(
        "POST", f"/api/v1/devices/{DEV1}/revoke", device(revoked_at="2026-11-23T11:00:00Z")
    )

    result = cli.run("devices", "revoke", DEV1, input="y\n")

    assert result.exit_code == 0, result.output
    assert len(gateway.received("POST", f"/api/v1/devices/{DEV1}/revoke")) == 1
    assert result.stdout.splitlines()[-1] == (
        f"Revoked device {DEV1} (cam-1, group lab of project site-1) at 2026-11-23 11:00:00Z."
    )


def test_revoke_with_yes_asks_nothing_and_json_is_the_device(
    cli: Cli, gateway: FakeGateway
) -> None:
    revoked = device(revoked_at="2026-11-23T11:00:00Z")
    gateway.route("POST", f"/api/v1/devices/{DEV1}/revoke", revoked)

    result = cli.run("devices", "revoke", DEV1, "--yes", "-o", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == revoked
    assert [request.method for request in gateway.received()] == ["POST"]


def test_revoke_of_a_revoked_device_does_not_ask(cli: Cli, gateway: FakeGateway) -> None:
    revoked = device(revoked_at="2026-11-23T11:00:00Z")
    gateway.route("GET", f"/api/v1/devices/{DEV1}", revoked)
    gateway.route("POST", f"/api/v1/devices/{DEV1}/revoke", revoked)

    result = cli.run("devices", "revoke", DEV1, input="")

    assert result.exit_code == 0, result.output
    assert "?" not in result.output


def test_revoke_with_end_of_input_at_the_prompt_is_a_usage_error(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route("GET", f"/api/v1/devices/{DEV1}", device())

    result = cli.run("devices", "revoke", DEV1, input="")

    assert result.exit_code == 2
    assert "no answer to a prompt" in result.stderr
    assert gateway.received("POST") == []


def test_revoke_as_a_viewer_exits_3(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", f"/api/v1/devices/{DEV1}/revoke", Answer(403, {"detail": "needs admin"}))

    result = cli.run("devices", "revoke", DEV1, "-y")

    assert result.exit_code == 3
    assert result.stderr == "iotctl: error: permission denied (403): needs admin\n"


def test_rotate_credential_asks_then_prints_the_new_password(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route("GET", f"/api/v1/devices/{DEV1}", device())
    gateway.route(
        "POST",
        f"/api/v1/devices/{DEV1}/rotate-credential",
        registered(credential_rotated_at="2026-11-23T12:00:00Z"),
    )

    declined = cli.run("devices", "rotate-credential", DEV1, input="n\n")
    assert declined.exit_code == 1
    assert "iotctl: error: not confirmed; the credential is unchanged" in declined.stderr
    assert gateway.received("POST") == []

    rotated = cli.run("devices", "rotate-credential", DEV1, input="y\n")
    assert rotated.exit_code == 0, rotated.output
    assert f"Rotate the credential of device {DEV1}" in rotated.stdout
    assert _fields(rotated.stdout.split("\n\n")[-1].split("\n", 1)[1])["password"] == SECRET
    assert "cannot be shown again" in rotated.stderr


def test_rotate_credential_of_a_revoked_device_exits_1_without_asking(
    cli: Cli, gateway: FakeGateway
) -> None:
    gateway.route("GET", f"/api/v1/devices/{DEV1}", device(revoked_at=T0))
    gateway.route(
        "POST",
        f"/api/v1/devices/{DEV1}/rotate-credential",
        Answer(409, {"detail": f"device {DEV1} is revoked"}),
    )

    result = cli.run("devices", "rotate-credential", DEV1, input="")

    assert result.exit_code == 1
    assert result.stderr == f"iotctl: error: device {DEV1} is revoked (409)\n"
    assert "?" not in result.stdout


def test_rotate_credential_with_yes_as_json(cli: Cli, gateway: FakeGateway) -> None:
    gateway.route("POST", f"/api/v1/devices/{DEV1}/rotate-credential", registered())

    result = cli.run("-o", "json", "devices", "rotate-credential", DEV1, "--yes")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["credential"]["password"] == SECRET
    assert [request.method for request in gateway.received()] == ["POST"]
