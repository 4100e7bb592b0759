"""Where the device's broker is, and the login URL built from it and the device's credential.

The broker address is configured without credentials (`amqp://host:5672/vhost`); the device logs
in as its id with its secret. Both are percent-encoded into the URL, so a secret with any
character cannot change the URL's meaning, and the secret never appears in a log line.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

DEFAULT_BROKER = "amqp://127.0.0.1:5672/"
_SCHEMES = ("amqp", "amqps")


class BrokerAddressError(ValueError):
    """A broker address the device cannot use."""


def broker_address(host: str, port: int = 5672, vhost: str = "/", *, tls: bool = False) -> str:
    """An address URL from its parts (the vhost percent-encoded; '/' is the default vhost)."""
    scheme = "amqps" if tls else "amqp"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{scheme}://{netloc}/{quote(vhost, safe='')}"


def check_address(address: str) -> str:
    """Return an address unchanged if it is an amqp(s) URL with a host and no credentials."""
    parts = urlsplit(address)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise BrokerAddressError(f"not an amqp:// or amqps:// URL with a host: {address!r}")
    if parts.username is not None or parts.password is not None:
        # Refused rather than ignored: a URL with guest's credentials in it would otherwise look
        # like it is used, while the device logs in with its own.
        raise BrokerAddressError(
            "the broker URL must not contain credentials: the device logs in as its id with its"
            " secret"
        )
    return address


def login_url(address: str, device_id: str, secret: str) -> str:
    """The address with the device's credential in it, for aiormq.connect (never log it)."""
    parts = urlsplit(check_address(address))
    user = quote(device_id, safe="")
    password = quote(secret, safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))
