"""Simulator settings from IOT_* variables, and the one-line report of a bad configuration."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from iot_service.settings import describe_error
from pydantic import ValidationError
from sensor_simulator.config import SimulatorSettings

_OURS = (
    "IOT_SENSOR_SERIAL",
    "IOT_SAMPLE_FREQUENCY_HZ",
    "IOT_BATCH_INTERVAL_SECONDS",
    "IOT_MAX_BATCH_SAMPLES",
    "IOT_MAX_BACKLOG_SECONDS",
    "IOT_MAX_SAMPLE_FREQUENCY_HZ",
    "IOT_FIRMWARE_VERSION",
    "IOT_HTTP_PORT",
    "IOT_HEARTBEAT_SECONDS",
    "IOT_DECLARE_TOPOLOGY",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OURS:
        monkeypatch.delenv(name, raising=False)


def errors_for(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        SimulatorSettings()
    return describe_error(caught.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "sensor-simulator-3.iot.svc")
    settings = SimulatorSettings()
    assert settings.sensor_serial == "sensor-simulator-3"
    assert settings.sample_frequency_hz == 10.0
    assert settings.batch_interval_seconds == 0.1
    assert settings.max_batch_samples == 5_000
    assert settings.max_backlog_seconds == 60.0
    assert settings.max_sample_frequency_hz == 25_000.0
    assert settings.http_port == 9104
    assert settings.heartbeat_seconds == 5.0
    assert settings.firmware_version
    assert settings.declare_topology is True  # local development and the tests


def test_unusable_host_names_still_give_a_valid_stable_serial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "1234")
    first = SimulatorSettings().sensor_serial
    assert first.startswith("sn-")
    assert SimulatorSettings().sensor_serial == first


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "IOT_SENSOR_SERIAL": "line-4-motor",
        "IOT_SAMPLE_FREQUENCY_HZ": "0.1",
        "IOT_BATCH_INTERVAL_SECONDS": "0.5",
        "IOT_MAX_BATCH_SAMPLES": "100",
        "IOT_MAX_BACKLOG_SECONDS": "5",
        "IOT_HTTP_PORT": "0",
        "IOT_FIRMWARE_VERSION": "sim-9",
        "IOT_HEARTBEAT_SECONDS": "0.25",
        "IOT_DECLARE_TOPOLOGY": "false",
    }.items():
        monkeypatch.setenv(name, value)
    settings = SimulatorSettings()
    assert settings.sensor_serial == "line-4-motor"
    assert settings.sample_frequency_hz == 0.1
    assert (settings.batch_interval_seconds, settings.max_batch_samples) == (0.5, 100)
    assert (settings.max_backlog_seconds, settings.http_port) == (5.0, 0)
    assert settings.firmware_version == "sim-9"
    assert settings.heartbeat_seconds == 0.25
    assert settings.declare_topology is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IOT_SAMPLE_FREQUENCY_HZ", "0"),
        ("IOT_SAMPLE_FREQUENCY_HZ", "-3"),
        ("IOT_SAMPLE_FREQUENCY_HZ", "nan"),
        ("IOT_SAMPLE_FREQUENCY_HZ", "fast"),
        ("IOT_BATCH_INTERVAL_SECONDS", "0"),
        ("IOT_MAX_BATCH_SAMPLES", "0"),
        ("IOT_MAX_BACKLOG_SECONDS", "-1"),
        ("IOT_HTTP_PORT", "70000"),
        ("IOT_HEARTBEAT_SECONDS", "0"),
        ("IOT_HEARTBEAT_SECONDS", "-5"),
        ("IOT_HEARTBEAT_SECONDS", "inf"),
        ("IOT_SENSOR_SERIAL", "sensor.1"),
        ("IOT_SENSOR_SERIAL", "all"),
        ("IOT_DECLARE_TOPOLOGY", "maybe"),
    ],
)
def test_a_bad_value_is_reported_on_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    line = errors_for(monkeypatch, **{name: value})
    assert "\n" not in line
    assert line.startswith("invalid configuration: ")
    assert name in line
    assert repr(value) in line


def test_frequency_above_the_configured_maximum_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = errors_for(
        monkeypatch, IOT_SAMPLE_FREQUENCY_HZ="2000", IOT_MAX_SAMPLE_FREQUENCY_HZ="1000"
    )
    assert "IOT_SAMPLE_FREQUENCY_HZ=2000 is above IOT_MAX_SAMPLE_FREQUENCY_HZ=1000" in line


def test_several_bad_values_stay_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    line = errors_for(monkeypatch, IOT_SAMPLE_FREQUENCY_HZ="0", IOT_MAX_BATCH_SAMPLES="x")
    assert "\n" not in line
    assert "IOT_SAMPLE_FREQUENCY_HZ" in line
    assert "IOT_MAX_BATCH_SAMPLES" in line


def test_the_readme_documents_every_setting() -> None:
    readme = (
        Path(__file__).resolve().parents[2] / "services" / "sensor-simulator" / "README.md"
    ).read_text()
    for name in SimulatorSettings.model_fields:
        assert f"`IOT_{name.upper()}`" in readme, name
