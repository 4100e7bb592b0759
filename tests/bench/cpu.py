"""Where the CPU went during a timed run, read from /proc (Linux only; empty elsewhere).

Processes are grouped by what they are: PostgreSQL (every ``postgres`` process, background
workers included), RabbitMQ (the Erlang VM and its helpers), the ingesters this run started,
this bench process, kernel threads (I/O writeback among them) and everything else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_RABBITMQ = frozenset({"beam.smp", "erl_child_setup", "epmd", "inet_gethost"})
_KERNEL_THREAD = 0x00200000  # PF_KTHREAD in the flags field
GROUPS = ("postgres", "rabbitmq", "ingesters", "bench", "kernel", "other")


@dataclass(frozen=True)
class _Process:
    group: str  # by name; the ingesters and the bench are told apart by pid later
    started: int  # start time in ticks after boot: a reused pid is a different process
    seconds: float


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds of every process at one moment, and machine-wide busy and total ticks."""

    taken_at: float
    processes: dict[int, _Process]
    busy_ticks: int
    total_ticks: int


@dataclass(frozen=True)
class CpuUsage:
    """Average cores busy per group between two snapshots, and for the whole machine
    (time waiting for I/O counts as idle)."""

    cores: dict[str, float]
    machine_busy: float
    machine_cores: int

    def line(self) -> str:
        if not self.cores:
            return "cpu: not measured (no /proc)"
        parts = ", ".join(f"{group} {self.cores.get(group, 0.0):.2f}" for group in GROUPS)
        return f"cpu (cores busy): {parts}; machine {self.machine_busy:.2f} of {self.machine_cores}"


def _is_cli_tool(pid_dir: Path) -> bool:
    """rabbitmqctl and friends run in an Erlang VM of their own; they are not the broker."""
    try:
        command = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"rabbitmq-server" not in command and b"rabbit boot" not in command


def _read_process(pid_dir: Path) -> _Process | None:
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:  # gone, or not ours to read
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    # fields[0] is field 3 (state): flags is field 9, utime and stime 14 and 15, starttime 22.
    fields = stat[stat.rindex(")") + 2 :].split()
    if int(fields[6]) & _KERNEL_THREAD:
        group = "kernel"
    elif name == "postgres":
        group = "postgres"
    elif name in _RABBITMQ:
        group = "other" if _is_cli_tool(pid_dir) else "rabbitmq"
    else:
        group = "other"
    return _Process(group, int(fields[19]), (int(fields[11]) + int(fields[12])) / _TICKS)


def _machine_ticks() -> tuple[int, int]:
    try:
        first = (_PROC / "stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(value) for value in first[:8]]  # user nice system idle iowait irq softirq steal
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def snapshot() -> CpuSnapshot:
    """CPU time of every process now."""
    processes: dict[int, _Process] = {}
    if _PROC.is_dir():
        for pid_dir in _PROC.iterdir():
            if pid_dir.name.isdigit() and (entry := _read_process(pid_dir)) is not None:
                processes[int(pid_dir.name)] = entry
    busy, total = _machine_ticks()
    return CpuSnapshot(time.monotonic(), processes, busy, total)


def usage(before: CpuSnapshot, after: CpuSnapshot, ingester_pids: Collection[int]) -> CpuUsage:
    """Cores each group kept busy between the snapshots (processes that ended are not seen)."""
    wall = after.taken_at - before.taken_at
    machine_cores = os.cpu_count() or 1
    if wall <= 0 or not after.processes:
        return CpuUsage({}, 0.0, machine_cores)
    seconds = dict.fromkeys(GROUPS, 0.0)
    own = os.getpid()
    for pid, process in after.processes.items():
        previous = before.processes.get(pid)
        spent = process.seconds
        if previous is not None and previous.started == process.started:
            spent -= previous.seconds
        if pid in ingester_pids:
            group = "ingesters"
        elif pid == own:
            group = "bench"
        else:
            group = process.group
        seconds[group] += max(0.0, spent)
    total = after.total_ticks - before.total_ticks
    busy = (after.busy_ticks - before.busy_ticks) / total * machine_cores if total else 0.0
    cores = {group: spent / wall for group, spent in seconds.items()}
    # Processes that ended before the second snapshot (other sessions' test runs, CLI tools)
    # are missing from the groups but not from the machine's total: they count as other.
    cores["other"] += max(0.0, busy - sum(cores.values()))
    return CpuUsage(cores, busy, machine_cores)
