"""iotctl login/logout/whoami and the configuration file, through click's CliRunner."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from iotctl import __version__, config
from iotctl.errors import AuthError

from tests.unit.test_iotctl_fake_gateway import (
    API_KEY,
    WHOAMI,
    Cli,
    FakeGateway,
    isolated_cli,
    running_gateway,
)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with running_gateway() as running:
        running.route("GET", "/api/v1/whoami", WHOAMI)
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    runner = isolated_cli(tmp_path, monkeypatch, gateway)
    runner.config_file.unlink()  # these tests start logged out
    return runner


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_verifies_the_key_and_stores_it_privately(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("login", input=f"{gateway.url}/\n{API_KEY}\n")

    assert result.exit_code == 0, result.output
    assert f"Logged in to {gateway.url} as ops-key (operator)." in result.stdout
    assert API_KEY not in result.output  # the hidden prompt does not echo the key
    assert cli.stored() == {"api_url": gateway.url, "api_key": API_KEY}
    assert _mode(cli.config_file) == 0o600
    assert _mode(cli.config_file.parent) == 0o700
    (whoami,) = gateway.received("GET", "/api/v1/whoami")
    assert whoami.headers["authorization"] == f"Bearer {API_KEY}"
    assert whoami.headers["user-agent"] == f"iotctl/{__version__}"


def test_login_offers_the_api_url_option_as_the_default(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("--api-url", gateway.url, "login", input=f"\n{API_KEY}\n")

    assert result.exit_code == 0, result.output
    assert f"API URL [{gateway.url}]" in result.output
    assert cli.stored()["api_url"] == gateway.url


def test_login_refused_by_the_gateway_stores_nothing(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("--api-url", gateway.url, "login", "--api-key-stdin", input="iot_wrong\n")

    assert result.exit_code == 3
    assert result.stderr.startswith("iotctl: error: the gateway refused the API key (401): ")
    assert "nothing was stored" in result.stderr
    assert "Traceback" not in result.output
    assert not cli.config_file.exists()


def test_login_with_the_key_on_stdin_prints_json_when_asked(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run(
        "--api-url", gateway.url, "-o", "json", "login", "--api-key-stdin", input=f"{API_KEY}\n"
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == WHOAMI
    assert cli.stored()["api_key"] == API_KEY


def test_login_with_an_empty_stdin_is_a_usage_error(cli: Cli, gateway: FakeGateway) -> None:
    result = cli.run("--api-url", gateway.url, "login", "--api-key-stdin", input="")

    assert result.exit_code == 2
    assert "standard input holds no API key" in result.stderr
    assert gateway.received() == []


def test_login_to_an_unreachable_gateway_exits_4(cli: Cli) -> None:
    result = cli.run("--api-url", "http://127.0.0.1:9", "login", "--api-key-stdin", input="k\n")

    assert result.exit_code == 4
    assert result.stderr.startswith("iotctl: error: cannot reach the gateway at http://127.0.0.1:9")
    assert not cli.config_file.exists()


def test_logout_removes_the_key_and_keeps_the_url(cli: Cli, gateway: FakeGateway) -> None:
    cli.log_in()

    result = cli.run("logout")

    assert result.exit_code == 0, result.output
    assert cli.stored() == {"api_url": gateway.url}
    assert _mode(cli.config_file) == 0o600
    after = cli.run("whoami")
    assert after.exit_code == 3
    assert "not logged in: run `iotctl login`" in after.stderr


def test_whoami_uses_the_stored_key(cli: Cli, gateway: FakeGateway) -> None:
    cli.log_in()

    result = cli.run("whoami")

    assert result.exit_code == 0, result.output
    assert "ops-key" in result.stdout
    assert "operator" in result.stdout
    assert gateway.url in result.stdout


def test_iot_api_key_overrides_the_stored_key(
    cli: Cli, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.log_in(key="iot_stale")
    monkeypatch.setenv("IOT_API_KEY", API_KEY)

    assert cli.run("whoami").exit_code == 0
    assert gateway.received()[-1].headers["authorization"] == f"Bearer {API_KEY}"


def test_a_stale_stored_key_says_to_log_in_again(cli: Cli) -> None:
    cli.log_in(key="iot_revoked")

    result = cli.run("whoami")

    assert result.exit_code == 3
    assert "(401): missing, unknown, expired or revoked API key; run `iotctl login`" in (
        result.stderr
    )


def test_the_api_url_option_overrides_the_stored_url(cli: Cli, gateway: FakeGateway) -> None:
    config.save(cli.config_file, config.StoredConfig(api_url="http://127.0.0.1:9", api_key=API_KEY))

    assert cli.run("--api-url", gateway.url, "whoami").exit_code == 0
    assert cli.run("whoami").exit_code == 4


def test_an_invalid_api_url_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("--api-url", "ftp://example", "whoami")

    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in result.stderr


def test_a_config_file_others_can_read_works_with_a_warning(cli: Cli) -> None:
    cli.log_in()
    os.chmod(cli.config_file, 0o644)

    result = cli.run("whoami")

    assert result.exit_code == 0, result.output
    assert "iotctl: warning: the config file" in result.stderr
    assert f"chmod 600 {cli.config_file}" in result.stderr


def test_a_corrupt_config_file_is_one_line_and_login_replaces_it(
    cli: Cli, gateway: FakeGateway
) -> None:
    cli.config_file.parent.mkdir(parents=True, exist_ok=True)
    cli.config_file.write_text("{not json")
    os.chmod(cli.config_file, 0o600)

    broken = cli.run("whoami")
    assert broken.exit_code == 3
    assert broken.stderr.count("\n") == 1
    assert "is not valid JSON" in broken.stderr

    fixed = cli.run("--api-url", gateway.url, "login", "--api-key-stdin", input=f"{API_KEY}\n")
    assert fixed.exit_code == 0, fixed.output
    assert cli.stored()["api_key"] == API_KEY


# The configuration module on its own.


def test_config_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("IOTCTL_CONFIG", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert config.config_path() == tmp_path / ".config" / "iotctl" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_path() == tmp_path / "xdg" / "iotctl" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative")  # invalid per the XDG spec: ignored
    assert config.config_path() == tmp_path / ".config" / "iotctl" / "config.json"
    monkeypatch.setenv("IOTCTL_CONFIG", str(tmp_path / "explicit.json"))
    assert config.config_path() == tmp_path / "explicit.json"


def test_save_is_never_readable_by_others_even_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOTCTL_CONFIG", raising=False)
    path = tmp_path / "iotctl" / "config.json"
    path.parent.mkdir(mode=0o755)
    path.write_text("{}")
    os.chmod(path, 0o644)
    modes: list[int] = []
    real_replace = os.replace

    def checking_replace(source: str, destination: Path) -> None:
        modes.append(stat.S_IMODE(os.stat(source).st_mode))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", checking_replace)
    previous = os.umask(0)  # a permissive umask must not widen the file
    try:
        config.save(path, config.StoredConfig(api_url="http://gw", api_key="iot_x"))
    finally:
        os.umask(previous)

    assert modes == [0o600]
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {"api_url": "http://gw", "api_key": "iot_x"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temp file left


def test_save_creates_missing_directories_with_mode_0700(tmp_path: Path) -> None:
    path = tmp_path / "a" / "iotctl" / "config.json"

    config.save(path, config.StoredConfig(api_key="iot_x"))

    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    assert config.load(path) == config.StoredConfig(api_key="iot_x")


def test_load_of_a_missing_file_is_empty_and_of_a_list_is_an_error(tmp_path: Path) -> None:
    assert config.load(tmp_path / "missing.json") == config.StoredConfig()
    with pytest.raises(AuthError, match="cannot read the config file"):
        config.load(tmp_path)  # a directory
    path = tmp_path / "list.json"
    path.write_text("[]")
    with pytest.raises(AuthError, match="not a JSON object"):
        config.load(path)
