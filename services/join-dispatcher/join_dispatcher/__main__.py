"""Entry point of the join-dispatcher (filled in by the dispatcher work)."""


def main() -> None:
    raise SystemExit("not built yet")
