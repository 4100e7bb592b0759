"""Before starting anything: is PostgreSQL reachable (start the local cluster if it is down),
is RabbitMQ reachable (say how to start or install it if not)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

POSTGRES_PORT = 5432
AMQP_PORT = 5672
POSTGRES_START_SECONDS = 60.0
_CONNECT_TIMEOUT_SECONDS = 3
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Echo = Callable[[str], None]


class PreflightError(Exception):
    """A server the stack needs is unusable; the message is one line saying what to do."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def local(self) -> bool:
        return self.host in _LOCAL_HOSTS


def endpoint(url: str, default_port: int) -> Endpoint:
    """Host and port a URL points at (`postgresql://`, `amqp://`)."""
    parts = urlsplit(url)
    return Endpoint(parts.hostname or "127.0.0.1", parts.port or default_port)


def port_open(where: Endpoint, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((where.host, where.port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_postgres(admin_url: str, echo: Echo) -> None:
    """Return once PostgreSQL accepts admin_url; start the local cluster if it is down."""
    where = endpoint(admin_url, POSTGRES_PORT)
    problem = _can_connect(admin_url)
    if problem is None:
        return
    if port_open(where):
        raise PreflightError(f"PostgreSQL at {where} refuses {_user(admin_url)}: {problem}")
    command = _postgres_start_command(where.port) if where.local else None
    if command is None:
        if not where.local:
            hint = "is the server up, and --admin-url right?"
        elif _installed("pg_lsclusters"):
            hint = f"no local cluster uses port {where.port} (see pg_lsclusters)"
        else:
            hint = "install it: apt-get install postgresql"
        raise PreflightError(f"PostgreSQL is not reachable at {where}: {hint}")
    echo(f"PostgreSQL is down; starting it: {' '.join(command)}")
    started = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if started.returncode != 0:
        why = " ".join((started.stderr or started.stdout).split()) or f"exit {started.returncode}"
        raise PreflightError(f"could not start PostgreSQL ({' '.join(command)}): {why}")
    deadline = time.monotonic() + POSTGRES_START_SECONDS
    while (problem := _can_connect(admin_url)) is not None:
        if time.monotonic() > deadline:
            raise PreflightError(
                f"PostgreSQL did not accept connections within {POSTGRES_START_SECONDS:.0f}s"
                f" of starting: {problem}"
            )
        time.sleep(0.5)
    echo("PostgreSQL is up")


def ensure_rabbitmq(amqp_url: str) -> None:
    """Raise PreflightError, one line with the command that fixes it, if RabbitMQ is down."""
    where = endpoint(amqp_url, AMQP_PORT)
    if port_open(where):
        return
    if not where.local:
        raise PreflightError(f"RabbitMQ is not reachable at {where}")
    if _installed("rabbitmq-server"):
        raise PreflightError(
            f"RabbitMQ is not reachable at {where}: start it with `rabbitmq-server -detached`"
            " (or `make services-up`)"
        )
    raise PreflightError(
        f"RabbitMQ is not reachable at {where} and not installed:"
        " apt-get install rabbitmq-server, then `rabbitmq-server -detached`"
    )


def _installed(command: str) -> bool:
    # Debian puts the server commands in /usr/sbin, which users' PATHs may lack.
    return shutil.which(command, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is not None


def _can_connect(url: str) -> str | None:
    """None if a connection succeeds, else the reason in one line."""
    try:
        with psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_SECONDS):
            return None
    except psycopg.Error as exc:
        return " ".join(str(exc).split())


def _user(url: str) -> str:
    return urlsplit(url).username or "the default user"


def _postgres_start_command(port: int) -> list[str] | None:
    """How Debian's postgresql-common starts the local cluster on port, if there is one."""
    if not (_installed("pg_lsclusters") and _installed("pg_ctlcluster")):
        return None
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False, timeout=30
    )
    # Columns: version, cluster name, port, status, owner, data directory, log file.
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == str(port):
            return ["pg_ctlcluster", "--skip-systemctl-redirect", fields[0], fields[1], "start"]
    return None
