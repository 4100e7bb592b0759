"""RabbitMQ fixtures: every test gets a virtual host of its own on the machine's real broker."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

BROKER = "127.0.0.1:5672"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """URL of a fresh, empty vhost; deleted (with its queues) after the test."""
    vhost = f"iot-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{BROKER}/{quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)
