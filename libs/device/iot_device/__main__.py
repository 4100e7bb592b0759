"""Entry point of iot-device (filled in by the device client work)."""


def main() -> None:
    raise SystemExit("not built yet")
