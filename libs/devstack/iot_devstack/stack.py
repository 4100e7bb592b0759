"""`iot-dev up`, top-down: check the servers, migrate, start the services and wait until they are
ready, start the simulators, print the live numbers, and on a signal, at the deadline or when a
child dies, stop everything in order (simulators, then the services) and print a summary."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from iot_messaging.connection import redact
from iot_storage.migrate import APP_ROLE, MigrationError, migrate
from iot_storage.urls import database_url

from iot_devstack.children import Child, ChildFailedError, ChildSpec, Stopped, describe_exit
from iot_devstack.display import Console, Snapshot, summary
from iot_devstack.monitor import Monitor, MonitorError
from iot_devstack.preflight import PreflightError, ensure_postgres, ensure_rabbitmq
from iot_devstack.sensors import SensorSpec

EXIT_OK = 0
EXIT_FAILED = 1
SERVICES = (
    "sensor-registry",
    "measurements-ingester",
    "logs-ingester",
    "api-gateway",
    "join-dispatcher",
)
GATEWAY = "api-gateway"
DISPATCHER = "join-dispatcher"
# LiveKit's own development-mode credentials (`livekit-server --dev`): local use only.
DEV_LIVEKIT = {"LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"}
SIMULATOR = "sensor-simulator"
# After the simulators stop, wait at most this long for the queued batches to be stored.
DRAIN_SECONDS = 15.0
_DRAIN_POLL_SECONDS = 0.3
# Asked to stop, a child exits 0, or dies of the SIGTERM if it came before its handler was set.
_CLEAN_EXITS = (0, -signal.SIGTERM)
_SAME_SIGNAL_SECONDS = 0.5


@dataclass(frozen=True)
class StackConfig:
    admin_url: str  # the server as a superuser; its database name is replaced by `database`
    database: str
    amqp_url: str
    sensors: Sequence[SensorSpec]
    log_dir: Path
    duration: float | None = None
    api_port: int = 8080
    interval: float = 1.0
    ready_timeout: float = 60.0
    stop_timeout: float = 15.0

    @property
    def app_url(self) -> str:
        return database_url(self.admin_url, self.database, APP_ROLE)

    @property
    def serials(self) -> list[str]:
        return [sensor.serial for sensor in self.sensors]


@dataclass
class _Run:
    """State shared by the steps of one run."""

    config: StackConfig
    console: Console
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    hurry: asyncio.Event = field(default_factory=asyncio.Event)  # a second Ctrl-C
    children: list[Child] = field(default_factory=list)
    failed: bool = False
    started_at: float = field(default_factory=time.monotonic)
    streaming_since: float | None = None
    first_signal_at: float | None = None


def up(config: StackConfig, console: Console) -> int:
    """Run the whole stack until a signal, the duration or a failure; return the exit code."""
    try:
        ensure_postgres(config.admin_url, console.say)
        ensure_rabbitmq(config.amqp_url)
    except PreflightError as exc:
        console.say(str(exc))
        return EXIT_FAILED
    console.say(f"migrating database {config.database}")
    try:
        migrate(
            database_url(config.admin_url, config.database),
            create_database=True,
            login_without_password=True,
            echo=lambda line: console.say(f"  {line}"),
        )
    except (MigrationError, psycopg.Error) as exc:
        console.say(f"migration failed: {' '.join(str(exc).split())}")
        return EXIT_FAILED
    return asyncio.run(_up(_Run(config, console)))


async def _up(run: _Run) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, run)
    config, console = run.config, run.console
    monitor = Monitor(config.app_url, config.amqp_url, config.serials, datetime.now(UTC))
    try:
        try:
            # Declares the topology too, so the first simulator's messages wait in the queues.
            baseline = (await monitor.queues()).dead_lettered
        except MonitorError as exc:
            console.say(
                f"cannot use {redact(config.amqp_url)} ({exc});"
                " do the user and the virtual host exist, and may the user use it?"
            )
            return EXIT_FAILED
        console.say(f"logs: {config.log_dir}/")
        if not await _start(run, [_service(name, config) for name in SERVICES]):
            return await _shut_down(run, monitor, baseline)
        monitor.since = datetime.now(UTC)
        if not await _start(run, [_simulator(sensor, config) for sensor in config.sensors]):
            return await _shut_down(run, monitor, baseline)
        rates = ", ".join(f"{s.serial} at {s.rate_hz:g} Hz" for s in config.sensors)
        until = f"for {config.duration:g} s" if config.duration else "until Ctrl-C"
        console.say(
            f"all {len(run.children)} processes ready after"
            f" {time.monotonic() - run.started_at:.1f} s; streaming {rates} {until}"
        )
        await _live(run, monitor, baseline)
        return await _shut_down(run, monitor, baseline)
    finally:
        # Whatever went wrong above, no child outlives this function.
        await _stop(run, run.children)
        await monitor.close()


def _on_signal(run: _Run) -> None:
    now = time.monotonic()
    if run.first_signal_at is None:
        run.first_signal_at = now
        run.stop.set()
    # One Ctrl-C can arrive twice: from the terminal and forwarded by `uv run` or make. Only
    # a second press, noticeably later, means "stop waiting".
    elif now - run.first_signal_at > _SAME_SIGNAL_SECONDS:
        run.hurry.set()


def _service(name: str, config: StackConfig) -> ChildSpec:
    env = {**_common_env(config), "IOT_DATABASE_URL": config.app_url}
    if name == GATEWAY:
        # A fixed, known port: iotctl and the README's operator session talk to it.
        grpc_port, auth_port = (
            (config.api_port + 1, config.api_port + 2) if config.api_port else (0, 0)
        )
        env |= {
            "IOT_HTTP_PORT": str(config.api_port),
            "IOT_GRPC_PORT": str(grpc_port),
            "IOT_BROKER_AUTH_PORT": str(auth_port),
        }
    elif name == DISPATCHER:
        env |= DEV_LIVEKIT
    return ChildSpec(name, name, env)


def _simulator(sensor: SensorSpec, config: StackConfig) -> ChildSpec:
    return ChildSpec(
        f"{SIMULATOR}-{sensor.serial}",
        SIMULATOR,
        {
            **_common_env(config),
            "IOT_SENSOR_SERIAL": sensor.serial,
            "IOT_SAMPLE_FREQUENCY_HZ": repr(sensor.rate_hz),
        },
    )


def _common_env(config: StackConfig) -> dict[str, str]:
    return {
        "IOT_AMQP_URL": config.amqp_url,
        "IOT_HTTP_HOST": "127.0.0.1",  # health servers of a development machine stay local
        "IOT_HTTP_PORT": "0",
        "IOT_LOG_FORMAT": "json",
    }


async def _start(run: _Run, specs: Sequence[ChildSpec]) -> bool:
    """Start the children and wait until all are ready; False on failure or a stop signal."""
    started = []
    for spec in specs:
        child = Child(spec, run.config.log_dir)
        try:
            child.start()
        except (ChildFailedError, OSError) as exc:
            run.console.say(f"cannot start {spec.name}: {exc}")
            run.failed = True
            return False
        run.children.append(child)
        started.append(child)
        run.console.say(f"started {child.name} (pid {child.pid})")
    waits = {asyncio.create_task(c.wait_ready(run.config.ready_timeout)): c for c in started}
    stopped = asyncio.create_task(run.stop.wait())
    pending: set[asyncio.Task[Any]] = set(waits)
    try:
        while pending:
            done, pending = await asyncio.wait(
                {*pending, stopped}, return_when=asyncio.FIRST_COMPLETED
            )
            if stopped in done:
                return False
            pending.discard(stopped)
            for task in done:
                problem = task.exception()
                if problem is not None:
                    _report_failure(run, problem, waits[task])
                    return False
    finally:
        for task in [*waits, stopped]:
            task.cancel()
        await asyncio.gather(*waits, stopped, return_exceptions=True)
    return True


async def _live(run: _Run, monitor: Monitor, baseline: int) -> None:
    """Print the numbers every interval until a signal, the deadline, or a child exits."""
    config = run.config
    run.streaming_since = time.monotonic()
    deadline = None if config.duration is None else run.streaming_since + config.duration
    previous = await _snapshot(monitor, baseline)
    tick = 0
    while not run.stop.is_set():
        tick += 1
        wake_at = run.streaming_since + tick * config.interval
        if deadline is not None:
            wake_at = min(wake_at, deadline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), max(0.0, wake_at - time.monotonic()))
        if run.stop.is_set():
            return
        for child in run.children:
            try:
                child.raise_if_exited("unexpectedly")
            except ChildFailedError as exc:
                _report_failure(run, exc, child)
                return
        current = await _snapshot(monitor, baseline)
        run.console.live(config.serials, previous, current)
        previous = current
        if deadline is not None and time.monotonic() >= deadline:
            return


async def _snapshot(monitor: Monitor, baseline: int) -> Snapshot:
    problems = []
    stored = queued = dead = None
    try:
        stored = await monitor.stored()
    except MonitorError as exc:
        problems.append(str(exc))
    try:
        counts = await monitor.queues()
        queued, dead = counts.queued, max(0, counts.dead_lettered - baseline)
    except MonitorError as exc:
        problems.append(str(exc))
    return Snapshot(
        time.monotonic(), datetime.now(), stored, queued, dead, problem="; ".join(problems)
    )


async def _shut_down(run: _Run, monitor: Monitor, baseline: int) -> int:
    """Stop the simulators, let the queued batches be stored, stop the services, summarise."""
    config, console = run.config, run.console
    streamed = 0.0 if run.streaming_since is None else time.monotonic() - run.streaming_since
    simulators = [child for child in run.children if child.spec.script == SIMULATOR]
    services = [child for child in run.children if child.spec.script != SIMULATOR]
    if simulators:
        console.say("stopping the simulators")
        await _stop(run, simulators)
    if services and simulators and not run.failed:
        await _drain(run, monitor)
    if services:
        console.say("stopping the services")
        await _stop(run, services)
    if run.streaming_since is not None:
        final = await _snapshot(monitor, baseline)
        if final.problem:
            console.say(final.problem)
        console.show(
            summary(
                config.serials,
                final.stored,
                streamed,
                time.monotonic() - run.started_at,
                final.dead_lettered,
            )
        )
    console.say(f"logs: {config.log_dir}/")
    return EXIT_FAILED if run.failed else EXIT_OK


async def _drain(run: _Run, monitor: Monitor) -> None:
    """Wait until the measurements queue is empty and the stored count stops changing."""
    deadline = time.monotonic() + DRAIN_SECONDS
    last: dict[str, int] | None = None
    while time.monotonic() < deadline and not run.hurry.is_set():
        try:
            counts = await monitor.queues()
            stored = await monitor.stored()
        except MonitorError:
            return
        if counts.queued == 0 and stored == last:
            return
        last = stored
        await asyncio.sleep(_DRAIN_POLL_SECONDS)
    if not run.hurry.is_set():
        run.console.say(f"batches are still queued after {DRAIN_SECONDS:g} s")


async def _stop(run: _Run, children: Sequence[Child]) -> None:
    """Stop the children that still run, together; report those that did not stop cleanly."""
    running = [child for child in children if child.returncode is None]
    results: list[Stopped] = await asyncio.gather(
        *(child.stop(run.config.stop_timeout, run.hurry) for child in running)
    )
    for child, result in zip(running, results, strict=True):
        if result.killed and run.hurry.is_set():
            run.console.say(f"{child.name} (pid {child.pid}) killed (interrupted twice)")
        elif result.killed:
            run.console.say(
                f"{child.name} (pid {child.pid}) ignored SIGTERM for"
                f" {run.config.stop_timeout:g} s and was killed; its log: {child.log_path}"
            )
            run.failed = True
        elif result.returncode not in _CLEAN_EXITS:
            run.console.say(
                f"{child.name} (pid {child.pid}) stopped with {describe_exit(result.returncode)};"
                f" its log: {child.log_path}"
            )
            run.failed = True


def _report_failure(run: _Run, problem: BaseException, child: Child) -> None:
    """Say what went wrong with a child, and show the end of its log."""
    run.failed = True
    run.console.say(str(problem))
    run.console.show([f"    {line}" for line in child.tail()])
