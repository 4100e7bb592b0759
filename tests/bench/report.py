"""Turning results into the lines people read: per run, per phase, and the final summary."""

from __future__ import annotations

from tests.bench.conditions import Conditions
from tests.bench.cpu import GROUPS
from tests.bench.results import Breakdown, LatencyResult, Results, Run, best
from tests.bench.settings import (
    COPY_CHUNK_ROWS,
    DISTURBED_OTHER_CORES,
    GO_SLICE_ROWS,
    GOAL_COPY_RATIO,
    GOAL_GO_RATIO,
    GOAL_P99_MS,
    LATENCY_GOAL_LOAD,
)

PHASES = {
    "a": f"(a) raw binary COPY, {COPY_CHUNK_ROWS // 1000}k-row chunks",
    "b": f"(b) Go: unnest INSERT ON CONFLICT, {GO_SLICE_ROWS // 1000}k slices",
    "c": "(c) pipeline: publish -> RabbitMQ -> ingester",
}
GO_IDEMPOTENCY = (
    "a table (time, sensor_id, value) indexed as the Go original's hypertable was:"
    " UNIQUE (sensor_id, time), its idempotency mechanism (a redelivered row conflicts and"
    " is skipped), paid for on every row, and the default (time DESC) index. Ours is one"
    " measurement_batches ledger row per batch, claimed in the same transaction as the COPY."
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_line(run: Run) -> str:
    """One timed run, as printed while the phases go."""
    return (
        f"{PHASES[run.phase][:3]} {run.parallel_label}: {run.rows:,} rows in {run.seconds:.2f} s"
        f" = {run.rate:,.0f} samples/s"
    )


def breakdown_lines(breakdown: Breakdown) -> list[str]:
    """The flush breakdown as a small table with each step's share."""
    total = sum(step.seconds for step in breakdown.steps[1:])  # parse is inside decode
    lines = [
        f"one ingester flush of {breakdown.samples:,} samples ({breakdown.messages} messages),"
        f" median of {breakdown.flushes}:",
        f"  {'step':<46} {'ms':>7} {'share':>6} {'samples/s alone':>16}",
    ]
    for index, step in enumerate(breakdown.steps):
        share = f"{step.seconds / total:6.0%}" if index else "  (in)"
        alone = breakdown.samples / step.seconds if step.seconds > 0 else float("inf")
        lines.append(f"  {step.name:<46} {step.seconds * 1000:7.2f} {share} {alone:16,.0f}")
    lines.append(
        f"  {'sum of the steps':<46} {total * 1000:7.2f} {'100%':>6}"
        f" {breakdown.samples / total:16,.0f}"
    )
    lines.append(
        f"  {'MeasurementStore.write() as a whole':<46} {breakdown.write_seconds * 1000:7.2f}"
        f" {'':>6} {breakdown.samples / breakdown.write_seconds:16,.0f}"
    )
    return lines


def latency_lines(latency: LatencyResult) -> list[str]:
    return [
        f"paced at {latency.target_rate:,.0f} samples/s ({latency.load:.0%} of peak),"
        f" achieved {latency.achieved_rate:,.0f}; {latency.sensors} sensors x 10 batches/s,"
        f" {latency.ingesters} ingester(s), {latency.batches} batches measured",
        f"publish -> commit visible: p50 {latency.p50_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms,"
        f" max {latency.max_ms:.1f} ms (resolution: poll every {latency.poll_interval_ms:.0f} ms,"
        f" mean cycle {latency.mean_poll_cycle_ms:.1f} ms)",
        f"publisher behind schedule: p99 {latency.publish_late_p99_ms:.1f} ms",
        latency.conditions.line(),
    ]


def _ratio_line(name: str, top: Run | None, bottom: Run | None, goal: float) -> str:
    if top is None or bottom is None or bottom.rate == 0:
        return f"{name}: not measured"
    ratio = top.rate / bottom.rate
    return (
        f"{name} = {ratio:5.2f}  (c: {top.parallel_label} {top.rate:,.0f}/s;"
        f" {name[2]}: {bottom.parallel_label} {bottom.rate:,.0f}/s)"
        f"  goal >= {goal:g}: {verdict(ratio >= goal)}"
    )


def _conditions_table(results: Results) -> list[str]:
    """CPU per process group during the best run of each phase, and during the latency run."""
    rows: list[tuple[str, Conditions]] = []
    for phase, runs in (
        ("a", results.copy_runs),
        ("b", results.go_runs),
        ("c", results.pipeline_runs),
    ):
        top = best(runs)
        if top is not None:
            rows.append((f"{PHASES[phase][:3]} best, {top.parallel_label}", top.conditions))
    rows += [
        (f"latency {latency.load:.0%}, {latency.ingesters} ingester(s)", latency.conditions)
        for latency in results.latencies
    ]
    if not rows or not rows[0][1].cpu.cores:
        return ["cpu: not measured (no /proc)"]
    cores = rows[0][1].cpu.machine_cores
    lines = [
        f"cores busy (of {cores}) during the runs; other = anything else on the machine:",
        f"  {'run':<28}" + "".join(f"{group:>10}" for group in (*GROUPS, "idle", "ckpts")),
    ]
    for label, conditions in rows:
        usage = conditions.cpu
        cells = [usage.cores.get(group, 0.0) for group in GROUPS]
        cells.append(max(0.0, usage.machine_cores - usage.machine_busy))
        lines.append(
            f"  {label:<28}"
            + "".join(f"{cell:>10.2f}" for cell in cells)
            + f"{conditions.checkpoints:>10}"
        )
    return lines


def summary_lines(results: Results) -> list[str]:
    """The compact table at the end."""
    lines = [
        "=" * 100,
        f"summary: {results.rows_per_phase:,} rows per run, best of the runs shown",
        f"  {'phase':<48} {'parallel':<12} {'samples/s':>11}   runs",
    ]
    for phase, runs in (
        ("a", results.copy_runs),
        ("b", results.go_runs),
        ("c", results.pipeline_runs),
    ):
        for parallel in sorted({r.parallel for r in runs}):
            top = best(runs, parallel)
            assert top is not None
            each = " / ".join(
                f"{r.rate:,.0f}{'*' if r.conditions.disturbed else ''}"
                for r in runs
                if r.parallel == parallel
            )
            lines.append(
                f"  {PHASES[phase]:<48} {top.parallel_label:<12} {top.rate:>11,.0f}   {each}"
            )
    top_c = best(results.pipeline_runs)
    lines += [
        "",
        _ratio_line("c/a", top_c, best(results.copy_runs), GOAL_COPY_RATIO),
        _ratio_line("c/b", top_c, best(results.go_runs), GOAL_GO_RATIO),
    ]
    top_a, top_b = best(results.copy_runs), best(results.go_runs)
    if top_a is not None and top_b is not None and top_b.rate > 0:
        lines.append(
            f"      (a/b = {top_a.rate / top_b.rate:.2f}: the most c/b can reach while"
            " PostgreSQL's COPY is the limit)"
        )
    if not results.latencies:
        lines.append("latency: not measured")
    for latency in results.latencies:
        goal = (
            f"  goal p99 < {GOAL_P99_MS:g} ms: {verdict(latency.p99_ms < GOAL_P99_MS)}"
            if latency.load == LATENCY_GOAL_LOAD
            else ""
        )
        lines.append(
            f"latency at {latency.load:.0%} of peak ({latency.achieved_rate:,.0f} samples/s,"
            f" {latency.ingesters} ingester(s)): p50 {latency.p50_ms:.0f} ms,"
            f" p99 {latency.p99_ms:.0f} ms (+-{latency.mean_poll_cycle_ms:.0f} ms)"
            f"{'*' if latency.conditions.disturbed else ''}{goal}"
        )
    if results.breakdown is not None:
        steps = ", ".join(
            f"{step.name.split(' (')[0].split(':')[0]} {step.seconds * 1000:.1f}"
            for step in results.breakdown.steps[1:]
        )
        lines.append(f"one {results.breakdown.samples:,}-sample flush, ms: {steps}")
    lines += [
        f"  * other processes kept more than {DISTURBED_OTHER_CORES:g} cores busy during the run",
        "",
        *_conditions_table(results),
    ]
    if results.facts is not None:
        lines += ["machine: " + "; ".join(results.facts.lines())]
    lines.append("=" * 100)
    return lines
