"""Device side of session joins: a client library and the iot-device console command.

`DeviceClient` logs in to RabbitMQ as the device, consumes the device's queue and answers JOINs
(through a pluggable `Joiner`) and pings; `TokenJoiner` is the default joiner, which checks the
LiveKit join token's claims. libs/device/README.md describes the protocol.
"""

from iot_device.broker import DEFAULT_BROKER, BrokerAddressError, broker_address, login_url
from iot_device.client import DeviceClient
from iot_device.joining import FailingJoiner, Joiner, JoinResult
from iot_device.stats import DeviceStats
from iot_device.token_joiner import JoinedSession, TokenJoiner, token_problem

SERVICE = "iot-device"

__all__ = [
    "DEFAULT_BROKER",
    "SERVICE",
    "BrokerAddressError",
    "DeviceClient",
    "DeviceStats",
    "FailingJoiner",
    "JoinResult",
    "JoinedSession",
    "Joiner",
    "TokenJoiner",
    "broker_address",
    "login_url",
    "token_problem",
]
