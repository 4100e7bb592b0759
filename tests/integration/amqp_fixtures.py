"""RabbitMQ fixtures: every test gets a virtual host of its own on the machine's real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest

from tests.support import rabbitmqctl

BROKER = "127.0.0.1:5672"


def vhost_url(vhost: str) -> str:
    return f"amqp://guest:guest@{BROKER}/{quote(vhost, safe='')}"


def vhost_of(url: str) -> str:
    return unquote(url.rsplit("/", 1)[1])


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """URL of a fresh, empty vhost; deleted (with its queues) after the test."""
    vhost = f"iot-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield vhost_url(vhost)
    finally:
        rabbitmqctl("delete_vhost", vhost)
