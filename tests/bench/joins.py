"""``python -m tests.bench.joins``: a group's session join, against the broker's fan-out floor.

One join request makes the join-dispatcher publish a JOIN (a SessionJoin with its own LiveKit
token) into each device's durable queue, confirmed, after recording the targets; the devices'
JOINED answers come back through the dispatcher's acknowledgement consumer into the database.
For a group of DEVICES devices, over ROUNDS requests, this prints:
- POST /api/v1/join-requests -> every JOIN received by the (simulated) devices, and the spread
  from the first JOIN received to the last, with the JOINs per second that makes;
- POST -> GET /api/v1/join-requests/{id} showing every device joined (the whole loop: request
  recorded, dispatched, answered, answers written, read back through the API);
against a baseline measured in the same run on the same machine: DEVICES persistent messages of
a JOIN's size, published at once with publisher confirms into DEVICES quorum queues and
consumed, which is the broker's own fan-out and no dispatcher can beat.
The devices are one AMQP connection (as guest) with a consumer per device queue, answering each
JOIN at once with JOINED, so the numbers are the platform's, not a device's.
Nothing here is asserted: the numbers are for people, and they depend on the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiormq
import httpx
from aiormq.abc import AbstractChannel, DeliveredMessage
from google.protobuf.timestamp_pb2 import Timestamp
from iot.v1.join_pb2 import JoinAck, JoinStatus, SessionJoin
from iot_messaging import publish_confirmed
from iot_messaging.publisher import message_properties
from iot_routing import EXCHANGE, device_queue_name, join_acks_key, message_kind
from iot_storage.api_keys import generate_key

from tests.bench.resources import bench_database, bench_vhost, machine_facts
from tests.integration.pipeline import execute, http_get, http_port
from tests.support import ServiceProcess, wait_until

DEVICES = 200
ROUNDS = 5
POLL_SECONDS = 0.02
REGISTER_CONCURRENCY = 16
PROJECT = "bench"
GROUP = "cams"
LIVEKIT_KEY = "bench-key"
LIVEKIT_SECRET = "bench-livekit-secret-" + "0123456789abcdef" * 2
TOKEN_CHARS = 400  # about a LiveKit join token: header, claims with one grant, signature


def seconds_since(started: float, times: list[float]) -> float:
    return max(times) - started


class Devices:
    """DEVICES simulated devices on one connection: a consumer per device queue.

    Each JOIN is timed on arrival (per request id) and answered JOINED on the device's
    join_acks key; pings are ignored.
    """

    def __init__(self, channel: AbstractChannel, publish: AbstractChannel) -> None:
        self._channel = channel
        self._publish = publish
        self.received: defaultdict[str, list[float]] = defaultdict(list)
        self._answers: set[asyncio.Task[None]] = set()

    async def consume(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            await self._channel.basic_consume(
                device_queue_name(device_id), self._on_message, no_ack=True
            )

    async def _on_message(self, message: DeliveredMessage) -> None:
        if message_kind(message.routing_key or "") != "join":
            return
        arrived = time.perf_counter()
        join = SessionJoin.FromString(message.body)
        self.received[join.request_id].append(arrived)
        task = asyncio.create_task(self._answer(join))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, join: SessionJoin) -> None:
        acked_at = Timestamp()
        acked_at.GetCurrentTime()
        ack = JoinAck(
            request_id=join.request_id,
            device_id=join.device_id,
            status=JoinStatus.JOIN_STATUS_JOINED,
            acked_at=acked_at,
        )
        await publish_confirmed(self._publish, join_acks_key(join.device_id), ack)


def join_sized_body() -> bytes:
    """A SessionJoin as the dispatcher sends one, with a token string of a real token's size."""
    deadline = Timestamp()
    deadline.FromDatetime(datetime.now(UTC) + timedelta(seconds=60))
    return SessionJoin(
        request_id=str(uuid.uuid4()),
        device_id="dev-0123456789abcdef",
        session_id="bench-session",
        session_name="bench-room",
        session_metadata_json="{}",
        session_join_token="x" * TOKEN_CHARS,
        livekit_url="",
        deadline=deadline,
    ).SerializeToString()


async def broker_fan_outs(amqp_url: str) -> list[float]:
    """ROUNDS times: DEVICES confirmed publishes at once into DEVICES quorum queues -> consumed.

    The queues are quorum queues bound to the iot exchange, like the devices' inboxes, and the
    messages persistent, mandatory and expiring like JOINs; one connection consumes them all
    (a consumer per queue) and another publishes, as with the dispatcher and the devices.
    """
    body = join_sized_body()
    properties = message_properties(SessionJoin(), expiration_ms=60_000)
    consumer, publisher = await aiormq.connect(amqp_url), await aiormq.connect(amqp_url)
    try:
        consuming, publishing = await consumer.channel(), await publisher.channel()
        queues = [f"bench.fanout.{n}.inbox" for n in range(DEVICES)]
        received: list[float] = []
        everything = asyncio.Event()

        async def on_message(message: DeliveredMessage) -> None:
            received.append(time.perf_counter())
            if len(received) == DEVICES:
                everything.set()

        for queue in queues:
            await consuming.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            await consuming.queue_bind(queue, EXCHANGE.name, routing_key=queue)
            await consuming.basic_consume(queue, on_message, no_ack=True)

        async def publish(queue: str) -> None:
            confirmation = await publishing.basic_publish(
                body,
                exchange=EXCHANGE.name,
                routing_key=queue,
                properties=properties,
                mandatory=True,
            )
            assert isinstance(confirmation, aiormq.spec.Basic.Ack)

        times = []
        for _ in range(ROUNDS):
            received.clear()
            everything.clear()
            started = time.perf_counter()
            await asyncio.gather(*(publish(queue) for queue in queues))
            await everything.wait()
            times.append(seconds_since(started, received))
        return times
    finally:
        await consumer.close()
        await publisher.close()


async def register_devices(api: httpx.AsyncClient) -> list[str]:
    (await api.post("/projects", json={"id": PROJECT, "name": "Bench"})).raise_for_status()
    (await api.post(f"/projects/{PROJECT}/groups", json={"name": GROUP})).raise_for_status()
    limit = asyncio.Semaphore(REGISTER_CONCURRENCY)

    async def register(n: int) -> str:
        async with limit:
            reply = await api.post(
                f"/projects/{PROJECT}/devices", json={"name": f"camera {n}", "group": GROUP}
            )
        reply.raise_for_status()
        return str(reply.json()["id"])

    return list(await asyncio.gather(*(register(n) for n in range(DEVICES))))


async def join_rounds(
    api: httpx.AsyncClient, devices: Devices
) -> tuple[list[float], list[float], list[float]]:
    """ROUNDS requests in turn: (POST -> all JOINs received, their spread, POST -> all joined)."""
    all_received, spreads, all_joined = [], [], []
    for n in range(ROUNDS):
        started = time.perf_counter()
        reply = await api.post(
            "/join-requests",
            json={
                "project": PROJECT,
                "group": GROUP,
                "session_id": f"bench-{n}",
                "session_name": f"bench-room-{n}",
                "deadline": "60s",
            },
        )
        reply.raise_for_status()
        request_id = reply.json()["join_request_id"]
        while True:
            status = (await api.get(f"/join-requests/{request_id}")).json()
            if status["counts"]["joined"] == DEVICES:
                break
            await asyncio.sleep(POLL_SECONDS)
        all_joined.append(time.perf_counter() - started)
        times = devices.received[request_id]  # complete: a device answers after its JOIN came
        all_received.append(seconds_since(started, times))
        spreads.append(max(times) - min(times))
    return all_received, spreads, all_joined


async def measure(
    amqp_url: str, api: httpx.AsyncClient
) -> tuple[list[float], list[float], list[float], list[float]]:
    device_ids = await register_devices(api)
    connection = await aiormq.connect(amqp_url)
    try:
        devices = Devices(await connection.channel(), await connection.channel())
        await devices.consume(device_ids)
        floor = await broker_fan_outs(amqp_url)
        received, spreads, joined = await join_rounds(api, devices)
    finally:
        await connection.close()
    return floor, received, spreads, joined


def wait_ready(process: ServiceProcess) -> None:
    """Until /readyz answers 200: the gateway's topology and the dispatcher's queues exist."""
    port = http_port(process, 60)
    wait_until(lambda: http_get(port, "/readyz")[0] == 200, 60, f"{process.script} to be ready")


def main() -> None:
    with (
        bench_vhost() as amqp_url,
        bench_database() as database,
        tempfile.TemporaryDirectory(prefix="iot-bench-joins-") as logs,
    ):
        facts = machine_facts(database)
        key = generate_key()
        execute(
            database.admin_url,
            "INSERT INTO api_keys (name, prefix, secret_hash, role)"
            " VALUES ('bench', %s, %s, 'admin')",
            key.prefix,
            key.secret_hash,
        )
        env = {"IOT_AMQP_URL": amqp_url, "IOT_DATABASE_URL": database.app_url, "IOT_HTTP_PORT": "0"}
        processes = [
            gateway := ServiceProcess(
                "api-gateway",
                {**env, "IOT_GRPC_PORT": "0", "IOT_BROKER_AUTH_PORT": "0"},
                Path(logs),
            ).start(),
            ServiceProcess(
                "join-dispatcher",
                {
                    **env,
                    "LIVEKIT_API_KEY": LIVEKIT_KEY,
                    "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
                    "IOT_JOIN_SWEEP_SECONDS": "0.5",
                    "IOT_PING_SECONDS": "3600",
                },
                Path(logs),
            ).start(),
        ]
        try:
            for process in processes:
                wait_ready(process)
            base = f"http://127.0.0.1:{http_port(gateway)}/api/v1"
            headers = {"Authorization": f"Bearer {key.key}"}

            async def run() -> tuple[list[float], list[float], list[float], list[float]]:
                async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
                    return await measure(amqp_url, api)

            floor, received, spreads, joined = asyncio.run(run())
        finally:
            for process in processes:
                process.stop()
    floor_p50, received_p50 = statistics.median(floor), statistics.median(received)
    spread_p50, joined_p50 = statistics.median(spreads), statistics.median(joined)
    for line in (
        f"{DEVICES} devices in one group, {ROUNDS} rounds, p50",
        f"broker fan-out (baseline):       {floor_p50 * 1e3:7.1f} ms"
        f" ({DEVICES / floor_p50:,.0f} msgs/s; {DEVICES} confirmed publishes at once -> consumed)",
        f"join POST -> all JOINs received: {received_p50 * 1e3:7.1f} ms"
        f" ({DEVICES / received_p50:,.0f} JOINs/s; {received_p50 / floor_p50:.1f}x the baseline)",
        f"first -> last JOIN received:     {spread_p50 * 1e3:7.1f} ms"
        f" ({DEVICES / spread_p50:,.0f} JOINs/s; {spread_p50 / floor_p50:.1f}x the baseline)",
        f"join POST -> counts.joined == N: {joined_p50 * 1e3:7.1f} ms"
        f" ({joined_p50 / floor_p50:.1f}x the baseline)",
        "machine: " + "; ".join(facts.lines()),
    ):
        print(line)


if __name__ == "__main__":
    main()
