"""Entry point of the `iotctl` console script and of `python -m iotctl`."""

from __future__ import annotations

from iotctl.cli import cli


def main() -> None:
    """Run iotctl; the program name is fixed so shell completion works however it was started."""
    cli.main(prog_name="iotctl", complete_var="_IOTCTL_COMPLETE")


if __name__ == "__main__":
    main()
