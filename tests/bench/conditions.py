"""What else was going on during a timed run: CPU per process group and forced checkpoints.

Other sessions on the same server (test suites creating and dropping databases force a
checkpoint each time) and other processes on the machine change the numbers; this records
how much, so a slow run can be told apart from a slow system.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import psycopg

from tests.bench import cpu
from tests.bench.settings import DISTURBED_OTHER_CORES

_CHECKPOINTS = "SELECT checkpoints_req + checkpoints_timed FROM pg_stat_bgwriter"


@dataclass(frozen=True)
class Conditions:
    """CPU use and checkpoints between Watch.start and Watch.stop."""

    cpu: cpu.CpuUsage
    checkpoints: int

    @property
    def disturbed(self) -> bool:
        """Whether other processes took enough CPU to make the run's number doubtful."""
        return self.cpu.cores.get("other", 0.0) > DISTURBED_OTHER_CORES

    def line(self) -> str:
        flag = " (disturbed by other load)" if self.disturbed else ""
        return f"{self.cpu.line()}; checkpoints during the run: {self.checkpoints}{flag}"


def _checkpoints(admin_url: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(_CHECKPOINTS).fetchone()
    return int(row[0]) if row else 0


class Watch:
    """Snapshots taken around a timed run (outside its timing)."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self._checkpoints = _checkpoints(admin_url)
        self._cpu = cpu.snapshot()

    def stop(self, ingester_pids: Collection[int] = ()) -> Conditions:
        used = cpu.usage(self._cpu, cpu.snapshot(), ingester_pids)
        return Conditions(used, _checkpoints(self._admin_url) - self._checkpoints)
