"""``python -m tests.bench.control`` (``make bench-api``): the control plane, against its floors.

Each number is printed with a baseline measured in the same run on the same machine:
- a command's round trip (POST /api/v1/commands -> the sensor applied it, seen through
  GET /api/v1/commands/{id}) against the broker's own round trip for a message of that size
  (publish with confirm -> consumed), which no command can beat;
- authenticated API reads (GET /api/v1/sensors: key check plus the presence query) against the
  same HTTP server answering /livez (no key, no database).
Nothing here is asserted: the numbers are for people, and they depend on the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiormq
import httpx
from iot.v1.command_pb2 import SensorCommand, SleepAction
from iot_storage.api_keys import generate_key

from tests.bench.resources import bench_database, bench_vhost
from tests.integration.pipeline import execute, http_port
from tests.support import ServiceProcess, wait_until

COMMANDS = 50
BROKER_ROUND_TRIPS = 200
READ_SECONDS = 4.0
READ_CLIENTS = 8
SENSOR = "bench-sensor-1"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


async def broker_round_trips(amqp_url: str) -> list[float]:
    """Publish-with-confirm -> consumed, sequentially, for a command-sized message."""
    body = SensorCommand(
        command_id=str(uuid.uuid4()), serial_number=SENSOR, sleep=SleepAction()
    ).SerializeToString()
    connection = await aiormq.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.queue_declare("", exclusive=True)
        queue = declared.queue or ""
        received: asyncio.Queue[float] = asyncio.Queue()

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            received.put_nowait(time.perf_counter())

        await channel.basic_consume(queue, on_message, no_ack=True)
        times = []
        for _ in range(BROKER_ROUND_TRIPS):
            started = time.perf_counter()
            await channel.basic_publish(body, routing_key=queue)
            times.append(await received.get() - started)
        return times
    finally:
        await connection.close()


def command_round_trips(api: httpx.Client) -> list[float]:
    times = []
    for n in range(COMMANDS):
        started = time.perf_counter()
        reply = api.post(
            "/commands",
            json={
                "action": "change_sample_frequency",
                "sample_frequency_hz": 1 + n % 2,
                "serial_number": SENSOR,
            },
        )
        reply.raise_for_status()
        command_id = reply.json()["commands"][0]["command_id"]
        while api.get(f"/commands/{command_id}").json()["status"] != "applied":
            time.sleep(0.002)
        times.append(time.perf_counter() - started)
    return times


def requests_per_second(make_client: Callable[[], httpx.Client], path: str) -> float:
    def hammer(_: int) -> int:
        count = 0
        with make_client() as client:
            deadline = time.perf_counter() + READ_SECONDS
            while time.perf_counter() < deadline:
                client.get(path).raise_for_status()
                count += 1
        return count

    with ThreadPoolExecutor(READ_CLIENTS) as pool:
        return sum(pool.map(hammer, range(READ_CLIENTS))) / READ_SECONDS


def main() -> None:
    with (
        bench_vhost() as amqp_url,
        bench_database() as database,
        tempfile.TemporaryDirectory(prefix="iot-bench-api-") as logs,
    ):
        key = generate_key()
        execute(
            database.admin_url,
            "INSERT INTO api_keys (name, prefix, secret_hash, role)"
            " VALUES ('bench', %s, %s, 'operator')",
            key.prefix,
            key.secret_hash,
        )
        env = {"IOT_AMQP_URL": amqp_url, "IOT_DATABASE_URL": database.app_url, "IOT_HTTP_PORT": "0"}
        processes = [
            ServiceProcess("sensor-registry", env, Path(logs)).start(),
            ServiceProcess(
                "sensor-simulator",
                {**env, "IOT_SENSOR_SERIAL": SENSOR, "IOT_SAMPLE_FREQUENCY_HZ": "1"},
                Path(logs),
            ).start(),
            gateway := ServiceProcess(
                "api-gateway",
                {**env, "IOT_GRPC_PORT": "0", "IOT_BROKER_AUTH_PORT": "0"},
                Path(logs),
            ).start(),
        ]
        try:
            base = f"http://127.0.0.1:{http_port(gateway)}"
            headers = {"Authorization": f"Bearer {key.key}"}
            with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30) as api:
                wait_until(
                    lambda: api.get(f"/sensors/{SENSOR}").status_code == 200, 60, "the sensor"
                )
                floor = asyncio.run(broker_round_trips(amqp_url))
                commands = command_round_trips(api)
            health = requests_per_second(lambda: httpx.Client(base_url=base), "/livez")
            listing = requests_per_second(
                lambda: httpx.Client(base_url=f"{base}/api/v1", headers=headers),
                "/sensors",
            )
        finally:
            for process in processes:
                process.stop()
    broker_p50, command_p50 = statistics.median(floor), statistics.median(commands)
    broker_p95, command_p95 = percentile(floor, 0.95), percentile(commands, 0.95)
    for line in (
        f"broker round trip (baseline): p50 {broker_p50 * 1e3:.2f} ms,"
        f" p95 {broker_p95 * 1e3:.2f} ms",
        f"command POST -> applied:      p50 {command_p50 * 1e3:.1f} ms,"
        f" p95 {command_p95 * 1e3:.1f} ms ({command_p50 / broker_p50:.0f}x the baseline)",
        f"GET /livez (baseline):        {health:,.0f} req/s with {READ_CLIENTS} clients",
        f"GET /api/v1/sensors:          {listing:,.0f} req/s"
        f" ({listing / health:.2f}x the baseline)",
    ):
        print(line)


if __name__ == "__main__":
    main()
