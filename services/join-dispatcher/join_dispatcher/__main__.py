"""Entry point of the join-dispatcher: settings, then the service (join_dispatcher.service)."""

from __future__ import annotations

from iot_service import load_settings

from join_dispatcher.config import Settings
from join_dispatcher.service import SERVICE, run


def main() -> None:
    run(load_settings(Settings, SERVICE))


if __name__ == "__main__":
    main()
