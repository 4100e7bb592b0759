"""Fixtures that start service processes against the test's own vhost and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.db_fixtures import TestDatabase
from tests.integration.pipeline import Services


@pytest.fixture
def services(amqp_url: str, database: TestDatabase, log_dir: Path) -> Iterator[Services]:
    """Service processes of this test, connected as the least-privileged application role."""
    started = Services(amqp_url, database.app_url, log_dir)
    try:
        yield started
    finally:
        started.stop_all()
        print(started.dump_logs())  # shown by pytest only when the test failed
