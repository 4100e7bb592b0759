"""The stack's child processes: each one a console script with a log file of its own, waited
for until its /readyz answers 200, and stopped by its own PID (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.1
_HTTP_TIMEOUT_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Loaded before any fork: the function run in the child between fork and exec must not load
# a library (a lock another thread held at fork time could never be released there).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class ChildFailedError(Exception):
    """A child could not start, exited, or never became ready; the message says which."""


@dataclass(frozen=True)
class ChildSpec:
    """What to run: a console script of this environment, with extra environment variables."""

    name: str  # how messages call it, and its log file's name
    script: str
    env: Mapping[str, str]


@dataclass(frozen=True)
class Stopped:
    """How a child ended when asked to stop."""

    returncode: int
    killed: bool  # it ignored SIGTERM until the timeout and got SIGKILL


class Child:
    """One running child process."""

    def __init__(self, spec: ChildSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self.http_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._scanned = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (reaping it), None while it runs."""
        return None if self._process is None else self._process.poll()

    def start(self) -> None:
        """Start the process; its output goes to its log file, truncated first."""
        executable = _console_script(self.spec.script)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # A process group of its own: Ctrl-C on the terminal reaches only iot-dev, which
            # stops the children in order. If iot-dev dies, the kernel sends them SIGTERM.
            self._process = subprocess.Popen(
                [executable],
                env={**os.environ, **self.spec.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent if _LIBC is not None else None,  # noqa: PLW1509
            )
        self._scanned = 0

    async def wait_ready(self, timeout: float) -> None:
        """Return once /readyz answers 200; raise ChildFailedError if it exits or times out."""
        deadline = time.monotonic() + timeout
        last = "its health server port is not logged yet"
        while time.monotonic() < deadline:
            self.raise_if_exited("while starting")
            if self.http_port is None:
                self.http_port = self._port_from_log()
            if self.http_port is not None:
                status, body = await _http_get(self.http_port, "/readyz")
                if status == 200:
                    return
                last = f"/readyz: {status} {body}".strip()
            await asyncio.sleep(POLL_SECONDS)
        raise ChildFailedError(
            f"{self.name} (pid {self.pid}) was not ready after {timeout:.0f}s ({last});"
            f" its log: {self.log_path}"
        )

    def raise_if_exited(self, when: str) -> None:
        code = self.returncode
        if code is not None:
            raise ChildFailedError(
                f"{self.name} (pid {self.pid}) exited {when} with {describe_exit(code)};"
                f" its log: {self.log_path}"
            )

    def terminate(self) -> None:
        """SIGTERM to this process (only this PID), if it still runs."""
        if self._process is not None and self.returncode is None:
            self._process.send_signal(signal.SIGTERM)

    async def stop(self, timeout: float, hurry: asyncio.Event | None = None) -> Stopped:
        """SIGTERM, wait up to timeout (less if hurry gets set), then SIGKILL."""
        self.terminate()
        deadline = time.monotonic() + timeout
        while self.returncode is None and time.monotonic() < deadline:
            if hurry is not None and hurry.is_set():
                break
            await asyncio.sleep(POLL_SECONDS)
        killed = False
        if self._process is not None and self.returncode is None:
            self._process.kill()
            killed = True
            await asyncio.to_thread(self._process.wait)
        code = self.returncode
        return Stopped(code if code is not None else 0, killed)

    def tail(self, lines: int = 10) -> list[str]:
        """The last lines of its log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def _port_from_log(self) -> int | None:
        # Every service logs the port its health server bound as `http_port`.
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._scanned)
                chunk = log.read()
        except OSError:
            return None
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._scanned += len(complete)
        for line in complete.splitlines():
            port = _port_in_line(line)
            if port is not None:
                return port
        return None


def describe_exit(code: int) -> str:
    """`exit code 1`, or `signal SIGKILL` for a negative Popen return code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _port_in_line(line: bytes) -> int | None:
    if not line.startswith(b"{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    port = event.get("http_port")
    return port if isinstance(port, int) and port > 0 else None


async def _http_get(port: int, path: str) -> tuple[int, str]:
    """GET a path of a child's health server; (status, first line of the body), 0 if no answer."""
    try:
        async with asyncio.timeout(_HTTP_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                await writer.drain()
                reply = await reader.read()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return 0, "no answer"
    head, _, body = reply.decode(errors="replace").partition("\r\n\r\n")
    status_line = head.split("\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    return status, body.strip().split("\n", 1)[0]


def _console_script(script: str) -> str:
    """The console script installed next to this interpreter (the project's .venv)."""
    beside = Path(sys.executable).parent / script
    if beside.exists():
        return str(beside)
    found = shutil.which(script)
    if found is None:
        raise ChildFailedError(f"the console script {script} is not installed: run `make install`")
    return found


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel for SIGTERM when iot-dev dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
