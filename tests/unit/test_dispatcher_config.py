"""Dispatcher settings: IOT_* variables plus LiveKit's own, the secrets required."""

from __future__ import annotations

import pytest
from iot_service import load_settings
from join_dispatcher.config import Settings

LIVEKIT = {"LIVEKIT_API_KEY": "key", "LIVEKIT_API_SECRET": "s" * 32}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        *LIVEKIT,
        "LIVEKIT_URL",
        "IOT_PING_SECONDS",
        "IOT_LIVEKIT_API_KEY",
        "IOT_AMQP_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_missing_livekit_credentials_stop_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOT_LIVEKIT_API_KEY", "not-the-name")  # only LiveKit's name counts
    # A missing variable's "input" is every value given: none of them may be echoed.
    monkeypatch.setenv("IOT_AMQP_URL", "amqp://dispatcher:hunter2@broker:5672/")
    with pytest.raises(SystemExit) as exit_info:
        load_settings(Settings, "join-dispatcher")
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line == (
        "join-dispatcher: invalid configuration: LIVEKIT_API_KEY: Field required;"
        " LIVEKIT_API_SECRET: Field required"
    )


def test_empty_credentials_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "")
    with pytest.raises(SystemExit):
        load_settings(Settings, "join-dispatcher")
    assert "LIVEKIT_API_SECRET" in capsys.readouterr().err


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LIVEKIT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIVEKIT_URL", "wss://lk.example.com")
    monkeypatch.setenv("IOT_PING_SECONDS", "5")
    settings = load_settings(Settings, "join-dispatcher")
    assert settings.livekit_api_secret.get_secret_value() == "s" * 32
    assert "s" * 32 not in repr(settings)
    assert (settings.livekit_url, settings.ping_seconds) == ("wss://lk.example.com", 5.0)
    assert (settings.join_sweep_seconds, settings.http_port) == (2.0, 9105)


def test_a_livekit_url_must_be_a_websocket_or_http_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in LIVEKIT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIVEKIT_URL", "livekit.example.com")
    with pytest.raises(SystemExit):
        load_settings(Settings, "join-dispatcher")
    assert "LIVEKIT_URL: Value error" in capsys.readouterr().err
