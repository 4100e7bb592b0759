"""Test configuration shared by all tiers; fixtures live in plugin modules next to their tier."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.integration.amqp_fixtures",
    "tests.integration.db_fixtures",
    "tests.integration.services_fixtures",
    "tests.integration.gateway_fixtures",
    "tests.integration.device_broker",
]


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where started service processes write their logs (kept by pytest for failed tests)."""
    path = tmp_path / "logs"
    path.mkdir()
    return path
