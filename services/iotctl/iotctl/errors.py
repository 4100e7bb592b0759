"""The failures iotctl reports, each a class with its own exit code (see README, "Exit codes").

Every expected failure is one of these: the root command prints it as one line,
`iotctl: error: <what happened>`, on standard error and exits with the class's code, so
scripts can tell "the API said no" from "the gateway is down" without parsing text.
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

import click

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2  # click's own code for usage errors; kept so both agree
EXIT_AUTH = 3
EXIT_UNAVAILABLE = 4
EXIT_NOT_APPLIED = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class IotctlError(click.ClickException):
    """A failure explained in one line; subclasses choose the exit code."""

    exit_code: ClassVar[int] = EXIT_REFUSED

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"iotctl: error: {self.format_message()}", file=file, err=file is None)


class RefusedError(IotctlError):
    """The API refused the request (a 4xx other than 401/403), or the user declined."""

    exit_code: ClassVar[int] = EXIT_REFUSED


class AuthError(IotctlError):
    """Not logged in, an unreadable configuration, or the gateway answered 401/403."""

    exit_code: ClassVar[int] = EXIT_AUTH


class UnavailableError(IotctlError):
    """The gateway could not be reached, timed out, failed (5xx) or answered nonsense."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE


class NotAppliedError(IotctlError):
    """What was waited for did not happen.

    A command ended rejected, expired or failed, a device of a join request did not join, or
    the wait timed out.
    """

    exit_code: ClassVar[int] = EXIT_NOT_APPLIED


class WaitInterruptedError(IotctlError):
    """The user pressed Ctrl-C while iotctl was waiting."""

    exit_code: ClassVar[int] = EXIT_INTERRUPTED


def warn(message: str) -> None:
    """Print a one-line warning on standard error; the command carries on."""
    click.echo(f"iotctl: warning: {message}", err=True)
