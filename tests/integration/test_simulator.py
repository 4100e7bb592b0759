"""The sensor-simulator console script against the real RabbitMQ.

What is checked: boot log lines before the registration, then contiguous batches with
strictly increasing sequences at the configured rate; sequences still increase after a
restart; an unreachable broker does not crash it; a broker outage longer than the backlog
limit drops (and counts) exactly the samples it skipped; SIGTERM ends it with 0 in < 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiormq
import pytest
from aiormq.abc import AbstractChannel, AbstractConnection
from iot.v1 import log_pb2, measurement_pb2, sensor_pb2
from iot_messaging import declare_topology
from iot_routing import (
    EXCHANGE,
    LOGS,
    MEASUREMENTS_DB_WRITER,
    REGISTRY_CREATED,
    logs_key,
    measurements_key,
    registry_key,
)
from sensor_simulator.messages import timestamp_ns

from tests.integration.amqp_fixtures import BROKER
from tests.integration.pipeline import http_get, http_port, metric
from tests.support import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

RATE_HZ = 1_000
NS_PER_SAMPLE = 1_000_000_000 // RATE_HZ
SHUTDOWN_SECONDS = 5.0
STARTUP_SECONDS = 30.0


class BrokerClient:
    """The test's own AMQP connection, driven synchronously on a private event loop."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._runner = asyncio.Runner()
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None

    def open(self) -> None:
        self._runner.run(self._open())

    async def _open(self) -> None:
        self._connection = await aiormq.connect(self._url)
        self._channel = await self._connection.channel()
        # The consumers' queues exist before the sensor starts, as in a deployment.
        await declare_topology(self._channel, MEASUREMENTS_DB_WRITER, REGISTRY_CREATED, LOGS)

    @property
    def channel(self) -> AbstractChannel:
        assert self._channel is not None
        return self._channel

    def tap(self, serial: str) -> str:
        """A private queue receiving one sensor's messages in the order they were published."""
        return self._runner.run(self._tap(serial))

    async def _tap(self, serial: str) -> str:
        declared = await self.channel.queue_declare("", exclusive=True, auto_delete=True)
        assert declared.queue is not None
        for key in (logs_key(serial), registry_key(serial), measurements_key(serial)):
            await self.channel.queue_bind(declared.queue, EXCHANGE.name, routing_key=key)
        return declared.queue

    def get_all(self, queue: str) -> list[tuple[str, bytes]]:
        """Every message now in the queue, as (routing key, body)."""
        return self._runner.run(self._get_all(queue))

    async def _get_all(self, queue: str) -> list[tuple[str, bytes]]:
        messages: list[tuple[str, bytes]] = []
        while True:
            message = await self.channel.basic_get(queue, no_ack=True)
            if isinstance(message.delivery, aiormq.spec.Basic.GetEmpty):
                return messages
            messages.append((message.routing_key or "", message.body))

    def close(self) -> None:
        if self._connection is not None:
            self._runner.run(self._connection.close())
        self._runner.close()


@dataclass
class Received:
    """One sensor's messages as read from a tap queue, in publish order."""

    serial: str
    order: list[str] = field(default_factory=list)
    logs: list[log_pb2.SensorLog] = field(default_factory=list)
    registrations: list[sensor_pb2.SensorRegistration] = field(default_factory=list)
    batches: list[measurement_pb2.MeasurementBatch] = field(default_factory=list)

    def add(self, messages: list[tuple[str, bytes]]) -> Received:
        for key, body in messages:
            if key == logs_key(self.serial):
                self.logs.append(log_pb2.SensorLog.FromString(body))
                self.order.append("log")
            elif key == registry_key(self.serial):
                self.registrations.append(sensor_pb2.SensorRegistration.FromString(body))
                self.order.append("registration")
            elif key == measurements_key(self.serial):
                self.batches.append(measurement_pb2.MeasurementBatch.FromString(body))
                self.order.append("batch")
            else:
                raise AssertionError(f"unexpected routing key {key!r}")
        return self

    @property
    def samples(self) -> int:
        return sum(len(batch.samples) for batch in self.batches)


class Tap:
    """Polls a tap queue into a Received record."""

    def __init__(self, broker: BrokerClient, serial: str) -> None:
        self._broker = broker
        self._queue = broker.tap(serial)
        self.received = Received(serial)

    def poll(self) -> Received:
        return self.received.add(self._broker.get_all(self._queue))


@pytest.fixture
def broker(amqp_url: str) -> Iterator[BrokerClient]:
    client = BrokerClient(amqp_url)
    client.open()
    try:
        yield client
    finally:
        client.close()


def new_serial() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


def simulator(amqp_url: str, serial: str, log_dir: Path, **extra: str) -> ServiceProcess:
    env = {
        "IOT_AMQP_URL": amqp_url,
        "IOT_SENSOR_SERIAL": serial,
        "IOT_SAMPLE_FREQUENCY_HZ": str(RATE_HZ),
        "IOT_HTTP_HOST": "127.0.0.1",
        "IOT_HTTP_PORT": "0",
        "IOT_RECONNECT_MAX_SECONDS": "0.5",
        **extra,
    }
    return ServiceProcess("sensor-simulator", env=env, log_dir=log_dir)


def events(process: ServiceProcess) -> list[dict[str, Any]]:
    """The JSON log lines the process wrote (library lines in other formats are skipped)."""
    parsed = []
    for line in process.logs().splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                parsed.append(value)
    return parsed


def count_events(process: ServiceProcess, name: str) -> int:
    return sum(1 for event in events(process) if event.get("event") == name)


def stop_in_time(process: ServiceProcess) -> float:
    """SIGTERM; assert exit code 0 and return how long it took."""
    started = time.monotonic()
    assert process.stop(timeout=SHUTDOWN_SECONDS * 2) == 0, process.logs()[-3000:]
    return time.monotonic() - started


def batch_end_ns(batch: measurement_pb2.MeasurementBatch) -> int:
    """Time the sample after the batch's last one is taken."""
    return timestamp_ns(batch.first_sample_time) + round(
        len(batch.samples) * 1e9 / batch.sample_rate_hz
    )


def assert_contiguous(batches: list[measurement_pb2.MeasurementBatch]) -> None:
    for previous, batch in pairwise(batches):
        gap = timestamp_ns(batch.first_sample_time) - batch_end_ns(previous)
        assert abs(gap) < 1_000, f"gap of {gap} ns before batch {batch.sequence}"


def unique_by_sequence(
    batches: list[measurement_pb2.MeasurementBatch],
) -> list[measurement_pb2.MeasurementBatch]:
    """Drop redeliveries (a publish retried after a lost confirm), checking they are identical."""
    seen: dict[int, measurement_pb2.MeasurementBatch] = {}
    for batch in batches:
        if batch.sequence in seen:
            assert seen[batch.sequence].samples == batch.samples
            continue
        seen[batch.sequence] = batch
    return list(seen.values())


def test_boots_registers_and_streams_contiguous_batches(
    amqp_url: str, broker: BrokerClient, log_dir: Path
) -> None:
    serial = new_serial()
    tap = Tap(broker, serial)
    process = simulator(amqp_url, serial, log_dir).start()
    try:
        wait_until(lambda: tap.poll().samples >= RATE_HZ, STARTUP_SECONDS, "a second of samples")
        started, before = time.monotonic(), tap.received.samples
        wait_until(
            lambda: tap.poll().samples >= before + 3 * RATE_HZ, 20, "three more seconds of samples"
        )
        rate = (tap.received.samples - before) / (time.monotonic() - started)
        assert 0.8 * RATE_HZ < rate < 1.25 * RATE_HZ

        port = http_port(process, STARTUP_SECONDS)
        assert http_get(port, "/readyz") == (200, "ready\n")
        assert metric(port, "iot_sample_frequency_hz") == RATE_HZ
        assert metric(port, "iot_batches_published_total") >= len(tap.received.batches)

        elapsed = stop_in_time(process)
        assert elapsed < SHUTDOWN_SECONDS
    finally:
        process.stop()

    received = tap.poll()
    # Boot: the log lines, then the registration, then only batches.
    assert received.order[:4] == ["log", "log", "log", "registration"]
    assert set(received.order[4:]) == {"batch"}
    assert received.logs[0].message == "System powering on"
    assert received.logs[-1].message == "Self-test result: PASSED"
    assert all(line.level == log_pb2.LOG_LEVEL_INFO for line in received.logs)
    log_sequences = [line.sequence for line in received.logs]
    assert log_sequences == sorted(set(log_sequences))

    (registration,) = received.registrations
    assert registration.serial_number == serial
    assert registration.kind == sensor_pb2.SENSOR_KIND_ACCELEROMETER
    assert registration.sample_frequency_hz == RATE_HZ
    assert registration.firmware.self_test == "PASSED"
    assert len(registration.firmware.boot_id) == 32
    assert timestamp_ns(registration.firmware.booted_at) <= timestamp_ns(registration.sent_at)

    batches = received.batches
    sequences = [batch.sequence for batch in batches]
    assert all(a < b for a, b in pairwise(sequences))
    assert {batch.sample_rate_hz for batch in batches} == {RATE_HZ}
    assert all(0 < len(batch.samples) <= 5_000 for batch in batches)
    assert_contiguous(batches)
    # Sampling starts once the registration is confirmed, and batches go out promptly.
    assert timestamp_ns(batches[0].first_sample_time) >= timestamp_ns(registration.sent_at)
    lags = [timestamp_ns(b.sent_at) - batch_end_ns(b) for b in batches]
    assert max(lags) < 1_000_000_000

    # The consumers' durable queues got the same messages.
    assert len(broker.get_all(LOGS.name)) == 3
    assert len(broker.get_all(REGISTRY_CREATED.name)) == 1
    stored = [
        measurement_pb2.MeasurementBatch.FromString(body).sequence
        for _, body in broker.get_all(MEASUREMENTS_DB_WRITER.name)
    ]
    assert stored == sequences

    lines = events(process)
    assert {line.get("sensor") for line in lines} == {serial}
    assert count_events(process, "boot step") >= 4
    assert lines[-1]["event"] == "stopped"


def test_sequences_keep_increasing_across_a_restart(
    amqp_url: str, broker: BrokerClient, log_dir: Path
) -> None:
    serial = new_serial()
    tap = Tap(broker, serial)
    for boot in (1, 2):

        def booted_and_streaming(boot: int = boot) -> bool:
            received = tap.poll()
            return (
                len(received.registrations) == boot
                and received.order[-1] == "batch"
                and received.order.count("batch") >= 3 * boot
            )

        process = simulator(amqp_url, serial, log_dir).start()
        try:
            wait_until(booted_and_streaming, STARTUP_SECONDS, f"batches of boot {boot}")
            assert stop_in_time(process) < SHUTDOWN_SECONDS
        finally:
            process.stop()

    received = tap.poll()
    assert received.order.count("registration") == 2
    first, second = received.registrations
    assert first.firmware.boot_id != second.firmware.boot_id
    for sequences in (
        [line.sequence for line in received.logs],
        [batch.sequence for batch in received.batches],
    ):
        assert all(a < b for a, b in pairwise(sequences))
    # The second boot samples after the first one stopped.
    boundary = received.order.index("registration", 4)
    first_boot_batches = received.order[:boundary].count("batch")
    last_of_first = received.batches[first_boot_batches - 1]
    first_of_second = received.batches[first_boot_batches]
    assert timestamp_ns(first_of_second.first_sample_time) > batch_end_ns(last_of_first)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_broker_is_retried_without_crashing(log_dir: Path) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    process = simulator(url, new_serial(), log_dir).start()
    try:
        wait_until(
            lambda: count_events(process, "amqp connect failed") >= 3,
            STARTUP_SECONDS,
            "repeated connection attempts",
        )
        assert process.running()
        port = http_port(process, STARTUP_SECONDS)
        assert http_get(port, "/readyz") == (503, "not ready: amqp\n")
        assert http_get(port, "/livez")[0] == 200
        assert stop_in_time(process) < SHUTDOWN_SECONDS
    finally:
        process.stop()


def test_an_invalid_setting_stops_start_up_with_one_line(log_dir: Path) -> None:
    process = ServiceProcess(
        "sensor-simulator",
        env={"IOT_SENSOR_SERIAL": new_serial(), "IOT_SAMPLE_FREQUENCY_HZ": "0"},
        log_dir=log_dir,
    ).start()
    try:
        assert process.process is not None
        assert process.process.wait(timeout=STARTUP_SECONDS) == 2
    finally:
        process.stop()
    (line,) = process.logs().splitlines()
    assert line.startswith("sensor-simulator: invalid configuration: IOT_SAMPLE_FREQUENCY_HZ")


class TcpProxy:
    """Forwards a local port to the broker; `cut` drops every connection, like a broker crash."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self.port = 0
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        # Same port every time, so the client's URL stays valid across a cut.
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self.port = int(listener.getsockname()[1])
        self._running.set()
        self._spawn(self._accept, listener)
        return self

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._running.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5)
                except OSError:
                    client.close()
                    continue
                client.settimeout(None)
                upstream.settimeout(None)
                with self._lock:
                    self._sockets += [client, upstream]
                self._spawn(self._pump, client, upstream)
                self._spawn(self._pump, upstream, client)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening and reset every forwarded connection."""
        self._running.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
            threads, self._threads = self._threads, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        for sock in sockets:
            sock.close()


def test_a_broker_outage_drops_only_what_exceeds_the_backlog_limit(
    amqp_url: str, broker: BrokerClient, log_dir: Path
) -> None:
    serial = new_serial()
    tap = Tap(broker, serial)
    proxy = TcpProxy(BROKER).start()
    via_proxy = amqp_url.replace(BROKER, f"127.0.0.1:{proxy.port}")
    process = simulator(via_proxy, serial, log_dir, IOT_MAX_BACKLOG_SECONDS="1").start()
    try:
        wait_until(lambda: len(tap.poll().batches) >= 3, STARTUP_SECONDS, "batches via the proxy")
        port = http_port(process, STARTUP_SECONDS)

        proxy.cut()
        cut_at = time.monotonic()
        # Keep the broker away for 3 s, three times the backlog limit.
        wait_until(
            lambda: (
                time.monotonic() - cut_at > 3 and count_events(process, "amqp connect failed") >= 2
            ),
            STARTUP_SECONDS,
            "a 3 s outage with reconnection attempts",
        )
        assert process.running()
        proxy.start()
        before = tap.poll().samples
        wait_until(
            lambda: tap.poll().samples >= before + 2 * RATE_HZ, 30, "samples after the outage"
        )
        dropped = metric(port, "iot_samples_dropped_total")
        assert stop_in_time(process) < SHUTDOWN_SECONDS
    finally:
        process.stop()
        proxy.cut()

    batches = unique_by_sequence(tap.poll().batches)
    assert all(a.sequence < b.sequence for a, b in pairwise(batches))
    # Every hole in the sample times is exactly what the metric says was dropped.
    holes = [
        (timestamp_ns(b.first_sample_time) - batch_end_ns(a)) // NS_PER_SAMPLE
        for a, b in pairwise(batches)
    ]
    assert min(holes) >= 0
    assert sum(holes) == dropped
    # About 2 s of the 3 s outage exceeded the 1 s limit.
    assert dropped >= RATE_HZ
    assert count_events(process, "publishing fell behind: oldest samples dropped") >= 1
