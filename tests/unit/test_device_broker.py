"""The device's broker URL: credentials quoted in, never taken from the configured address; and
the answer properties (user_id) the device publishes with."""

from __future__ import annotations

import pytest
from iot.v1.join_pb2 import JoinAck
from iot_device.broker import BrokerAddressError, broker_address, check_address, login_url
from iot_messaging import message_properties
from iot_messaging.publisher import CONTENT_TYPE, PERSISTENT
from yarl import URL

DEVICE = "dev-0123456789abcdef"


def test_the_credential_is_quoted_so_any_secret_keeps_the_url_intact() -> None:
    secret = "a/b@c:d%e?f#g h"
    url = URL(login_url("amqp://broker.example:5672/fleet", DEVICE, secret))
    # aiormq reads the URL with yarl: what it logs in with is exactly the id and secret.
    assert (url.user, url.password, url.host, url.port, url.path) == (
        DEVICE,
        secret,
        "broker.example",
        5672,
        "/fleet",
    )


def test_the_address_keeps_its_scheme_vhost_and_query() -> None:
    url = login_url("amqps://broker.example/%2F?heartbeat=30", DEVICE, "s")
    assert url == f"amqps://{DEVICE}:s@broker.example/%2F?heartbeat=30"


@pytest.mark.parametrize(
    ("parts", "address"),
    [
        (("127.0.0.1", 5672, "/"), "amqp://127.0.0.1:5672/%2F"),
        (("broker", 5671, "iot test", True), "amqps://broker:5671/iot%20test"),
        (("::1", 5672, "v"), "amqp://[::1]:5672/v"),
    ],
)
def test_an_address_from_its_parts(parts: tuple[object, ...], address: str) -> None:
    host, port, vhost, *tls = parts
    assert (
        broker_address(str(host), int(str(port)), str(vhost), tls=bool(tls and tls[0])) == address
    )
    assert check_address(address) == address


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "must not contain credentials"),
        ("amqp://someone@127.0.0.1:5672/", "must not contain credentials"),
        ("http://127.0.0.1:5672/", "not an amqp"),
        ("amqp:///vhost", "not an amqp"),
        ("127.0.0.1:5672", "not an amqp"),
    ],
)
def test_unusable_addresses_are_refused(address: str, problem: str) -> None:
    with pytest.raises(BrokerAddressError, match=problem):
        check_address(address)


def test_answers_carry_the_device_as_user_id_and_are_persistent_protobuf() -> None:
    properties = message_properties(JoinAck(), user_id=DEVICE)
    assert (properties.user_id, properties.delivery_mode) == (DEVICE, PERSISTENT)
    assert (properties.content_type, properties.message_type) == (CONTENT_TYPE, "iot.v1.JoinAck")
    assert properties.expiration is None
    assert message_properties(JoinAck(), expiration_ms=1500).expiration == "1500"
    assert message_properties(JoinAck()).user_id is None
