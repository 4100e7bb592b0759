"""iotctl: the operator command line of the IoT telemetry platform, a client of the api-gateway."""

from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    """The version of the distribution iotctl ships in (the monorepo's one package)."""
    # Imported here, not at the top: importlib.metadata costs a tenth of a second, which
    # shell completion (a run per Tab) and --help need not pay.
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415
    from importlib.metadata import version as distribution_version  # noqa: PLC0415

    try:
        return distribution_version("iot-telemetry")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    # `iotctl.__version__`, computed on first use (see version()).
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'iotctl' has no attribute {name!r}")
