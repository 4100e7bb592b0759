"""Entry point of the api-gateway: wiring only."""

from __future__ import annotations

from iot_service import load_settings

from api_gateway.config import Settings
from api_gateway.server import run

SERVICE = "api-gateway"


def main() -> None:
    run(load_settings(Settings, SERVICE), SERVICE)


if __name__ == "__main__":
    main()
