"""Broker authentication for devices: the endpoints of RabbitMQ's HTTP auth backend.

Served on a listener of its own (IOT_BROKER_AUTH_PORT), apart from the public API: the user
endpoint answers whether a password is right, which only the broker should be able to ask.
See dependencies/rabbitmq/ for the broker's side.
"""

from api_gateway.broker_auth.app import create_broker_auth_app
from api_gateway.broker_auth.directory import DeviceDirectory, DeviceEntry, database_fetch
from api_gateway.broker_auth.policy import Decision, DevicePolicy, DeviceRecord

__all__ = [
    "Decision",
    "DeviceDirectory",
    "DeviceEntry",
    "DevicePolicy",
    "DeviceRecord",
    "create_broker_auth_app",
    "database_fetch",
]
