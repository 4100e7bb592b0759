"""Real measurements-ingester processes, started as their console script and stopped by PID."""

from __future__ import annotations

from pathlib import Path

from tests.bench.results import BenchError
from tests.support import ServiceProcess

SCRIPT = "measurements-ingester"
LOG_TAIL_LINES = 20


class Ingesters:
    """The ingester processes of one run; `stop` ends exactly those it started."""

    def __init__(self, amqp_url: str, database_url: str, log_dir: Path) -> None:
        self._env = {
            "IOT_AMQP_URL": amqp_url,
            "IOT_DATABASE_URL": database_url,
            "IOT_HTTP_PORT": "0",
            "IOT_LOG_LEVEL": "warning",
        }
        self._log_dir = log_dir
        self._running: list[ServiceProcess] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._running]

    def start(self, count: int) -> None:
        """Start count more ingesters."""
        for _ in range(count):
            self._running.append(ServiceProcess(SCRIPT, self._env, self._log_dir).start())

    def check(self) -> None:
        """Raise BenchError (with its log) if an ingester has exited."""
        for process in self._running:
            if not process.running():
                raise BenchError(f"{SCRIPT} (pid {process.pid}) exited:\n{_tail(process)}")

    def stop(self) -> list[str]:
        """SIGTERM each, SIGKILL those that do not exit in time; return problems seen."""
        problems = []
        running, self._running = self._running, []
        for process in running:
            code = process.stop(timeout=30)
            if code != 0:
                problems.append(f"{SCRIPT} (pid {process.pid}) exited {code}:\n{_tail(process)}")
        return problems


def _tail(process: ServiceProcess) -> str:
    return "\n".join(process.logs().splitlines()[-LOG_TAIL_LINES:])
