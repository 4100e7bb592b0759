"""Test helpers shared by every tier: waiting on conditions and owning service processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.05
# Debian installs rabbitmqctl in /usr/sbin, which a non-login PATH may lack.
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def rabbitmqctl(*args: str, timeout: float = 60.0) -> None:
    """Run rabbitmqctl quietly; raise CalledProcessError on failure."""
    subprocess.run([RABBITMQCTL, "-q", *args], check=True, capture_output=True, timeout=timeout)


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, poll: float = POLL_SECONDS
) -> T:
    """Poll probe until it returns a truthy value and return it; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


class ServiceProcess:
    """One service started as its console script; stopped by its own PID, never by name."""

    def __init__(
        self, script: str, env: dict[str, str], log_dir: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.script = script
        self.args = args
        self._env = {**os.environ, **env, "IOT_LOG_FORMAT": "json"}
        self._log_path = log_dir / f"{script}-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        executable = Path(sys.executable).parent / self.script
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(  # the test owns this PID and stops only it
                [str(executable), *self.args], env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        assert self.process is not None
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)
