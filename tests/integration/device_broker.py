"""A second RabbitMQ node that authenticates devices through the api-gateway, for the tests.

The machine's RabbitMQ (5672) keeps its own configuration and is never touched. Device tests
need a node configured like production, `dependencies/rabbitmq/rabbitmq.conf`: internal users
first, then the HTTP auth backend asking the api-gateway's broker-auth listener. The session
starts one such node of its own on free ports, from Debian's RabbitMQ installation, with the
auth URLs rewritten to a local port chosen up front (`DeviceBroker.auth_port`); the gateway a
test starts (`device_gateway`) listens there, so the node asks that test's gateway.

Per test, as for the system node: a fresh virtual host (`device_vhost`, which is also the
gateway's IOT_DEVICE_VHOST) and database (`database`); `device_services` starts service
processes connected to both as the internal user guest (a loopback-only user, which is fine
here). The node runs the auth backend, the management plugin (for creating and deleting vhosts
over HTTP, which is much faster than rabbitmqctl) and rabbitmq_prometheus (whose metric names
the Grafana dashboards are checked against), each listener on a free port of its own
(`DeviceBroker.prometheus_port` for the metrics); MQTT and streams are production's, not
needed here, and their default ports could clash with the machine's.

Fixtures: `device_broker` (session: the node; `address()`, `guest_url()`, `amqp_url_for()`),
`device_vhost`, `device_services` (Services on the node and the test database, e.g. for the
join-dispatcher), `device_gateway` / `device_gateway_factory(**env)` (the gateway the node asks;
`register_device()`, `revoke()`, `amqp_url_for(device)`).

The node is a child process of the test session in a process group of its own. It is stopped
by its PID (SIGTERM, which the rabbitmq-server script turns into an orderly shutdown), then, if
still running after a short grace, by SIGKILL to that group; its directory is removed, whatever
happened. It boots in about 5-10 s on this 2-core machine, depending on the load; the first
test that needs it overlaps that with migrating the template database.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from iot_routing import DEAD_LETTER_EXCHANGE, EXCHANGE

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway, logged_port, start_gateway
from tests.integration.pipeline import Services
from tests.support import REPO, ServiceProcess, wait_until

# Debian's package: the script in /usr/sbin re-executes itself as the rabbitmq user, which could
# not use a directory of ours; this one runs the node as whoever runs the tests.
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CONF = REPO / "dependencies" / "rabbitmq" / "rabbitmq.conf"
PLUGINS = "[rabbitmq_auth_backend_http,rabbitmq_management,rabbitmq_prometheus]."
# Where production's broker finds the gateway; rewritten to this machine's auth port.
PRODUCTION_AUTH_BASE = "http://api-gateway:8081/"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 120.0
# The orderly stop takes about a second, plus five while the management plugin's HTTP listener
# winds down; the node's data is thrown away, so after this its processes are killed instead.
STOP_GRACE_SECONDS = 1.5
# A revocation reaches the broker after the gateway's cache time: short, so tests wait little.
TEST_CACHE_SECONDS = 1.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def node_config(
    production: str, *, auth_port: int, amqp_port: int, management_port: int, prometheus_port: int
) -> str:
    """Production's rabbitmq.conf with the auth URLs pointed here, plus this node's listeners."""
    rewritten, count = re.subn(
        rf"^(auth_http\.\w+_path\s*=\s*){re.escape(PRODUCTION_AUTH_BASE)}",
        rf"\g<1>http://{HOST}:{auth_port}/",
        production,
        flags=re.MULTILINE,
    )
    if count != 4:
        raise AssertionError(f"expected 4 auth_http paths at {PRODUCTION_AUTH_BASE} in {CONF}")
    return (
        f"{rewritten}\n"
        "## Test node only (tests/integration/device_broker.py)\n"
        f"listeners.tcp.default = {HOST}:{amqp_port}\n"
        f"management.tcp.ip = {HOST}\n"
        f"management.tcp.port = {management_port}\n"
        # Not 15692: that is the machine's own broker's (or another session's) metrics port.
        f"prometheus.tcp.ip = {HOST}\n"
        f"prometheus.tcp.port = {prometheus_port}\n"
        # The machine's disk may run low; a test node must not block publishers for that.
        "disk_free_limit.absolute = 1MB\n"
    )


@dataclass(frozen=True)
class DeviceBroker:
    """The running second node: where it listens, and how to log in to it."""

    node: str
    amqp_port: int
    management_port: int
    # rabbitmq_prometheus: /metrics, /metrics/per-object, /metrics/detailed.
    prometheus_port: int
    # Where the node asks its auth questions: the test's gateway must listen here.
    auth_port: int
    started_in_seconds: float
    # Who the management API is used as: guest, unless definitions replaced the users.
    management_auth: tuple[str, str] = ("guest", "guest")

    def address(self, vhost: str = "/") -> str:
        """The broker URL without credentials, as a device is configured with it."""
        return f"amqp://{HOST}:{self.amqp_port}/{quote(vhost, safe='')}"

    def amqp_url_for(self, username: str, password: str, vhost: str = "/") -> str:
        """A login URL for any user (a device: its id and secret)."""
        credentials = f"{quote(username, safe='')}:{quote(password, safe='')}"
        return f"amqp://{credentials}@{HOST}:{self.amqp_port}/{quote(vhost, safe='')}"

    def guest_url(self, vhost: str = "/") -> str:
        """The internal user guest, as the platform's services log in."""
        return self.amqp_url_for("guest", "guest", vhost)

    def management(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://{HOST}:{self.management_port}/api",
            auth=self.management_auth,
            timeout=30,
        )

    def add_vhost(self, vhost: str) -> None:
        """A vhost where guest may do anything, with the platform's exchanges declared."""
        name = quote(vhost, safe="")
        with self.management() as api:
            api.put(f"/vhosts/{name}").raise_for_status()
            permissions = {"configure": ".*", "write": ".*", "read": ".*"}
            api.put(f"/permissions/{name}/guest", json=permissions).raise_for_status()
            for exchange in (EXCHANGE, DEAD_LETTER_EXCHANGE):
                declaration = {"type": exchange.type, "durable": exchange.durable}
                api.put(f"/exchanges/{name}/{exchange.name}", json=declaration).raise_for_status()

    def delete_vhost(self, vhost: str) -> None:
        with self.management() as api:
            reply = api.delete(f"/vhosts/{quote(vhost, safe='')}")
            if reply.status_code != 404:
                reply.raise_for_status()


class DeviceBrokerNode:
    """Starts the node in the background (launch) and waits for it when needed (ready).

    With `definitions`, the node loads that file at boot (`load_definitions`); RabbitMQ then
    creates no guest user, so `management_auth` must name an administrator it defines.
    """

    def __init__(
        self,
        auth_port: int | None = None,
        *,
        definitions: Path | None = None,
        management_auth: tuple[str, str] = ("guest", "guest"),
    ) -> None:
        self.definitions = definitions
        self.management_auth = management_auth
        self.directory = Path(tempfile.mkdtemp(prefix="iot-device-broker-"))
        self.node = f"iot-devices-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        self.amqp_port = free_port()
        self.management_port = free_port()
        self.prometheus_port = free_port()
        self.dist_port = free_port()
        self.auth_port = auth_port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0
        self._broker: DeviceBroker | None = None

    def launch(self) -> None:
        if not RABBITMQ_SERVER.exists():
            raise AssertionError(f"{RABBITMQ_SERVER} missing: apt-get install rabbitmq-server")
        home = self.directory / "home"
        home.mkdir()
        # The node's Erlang cookie, in a home of its own: the machine's node's is not ours.
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        config = self.directory / "rabbitmq.conf"
        text = node_config(
            CONF.read_text(),
            auth_port=self.auth_port,
            amqp_port=self.amqp_port,
            management_port=self.management_port,
            prometheus_port=self.prometheus_port,
        )
        if self.definitions is not None:
            text += f"load_definitions = {self.definitions.resolve()}\n"
        config.write_text(text)
        plugins = self.directory / "enabled_plugins"
        plugins.write_text(PLUGINS + "\n")
        env = {
            **os.environ,
            "HOME": str(home),
            # Not /etc/rabbitmq/rabbitmq-env.conf: that names the machine's node.
            "RABBITMQ_CONF_ENV_FILE": str(self.directory / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": str(config),
            # No conf.d: only the file above configures this node.
            "RABBITMQ_CONFIG_FILES": str(self.directory / "conf.d"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self._launched_at = time.monotonic()
        with (self.directory / "server.out").open("wb") as output:
            self.process = subprocess.Popen(  # the session owns this PID and stops only it
                [str(RABBITMQ_SERVER)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # A process group of its own: the last resort kills exactly this node's processes.
                start_new_session=True,
            )

    def ready(self) -> DeviceBroker:
        """Wait until the node answers on AMQP, its management API and its metrics port."""
        if self._broker is None:
            wait_until(self._booted, START_TIMEOUT_SECONDS, f"RabbitMQ node {self.node} to boot")
            self._broker = DeviceBroker(
                node=self.node,
                amqp_port=self.amqp_port,
                management_port=self.management_port,
                prometheus_port=self.prometheus_port,
                auth_port=self.auth_port,
                started_in_seconds=round(time.monotonic() - self._launched_at, 2),
                management_auth=self.management_auth,
            )
        return self._broker

    def _booted(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"RabbitMQ node {self.node} exited with {self.process.returncode}:\n{self.logs()}"
            )
        # RabbitMQ 3.10 opens AMQP after starting every plugin, so the metrics port is open by
        # then; it is checked anyway, since that is what ready() promises the dashboard test.
        listeners = (self.amqp_port, self.management_port, self.prometheus_port)
        if not all(_port_open(port) for port in listeners):
            return False
        # The management API answers once every plugin has started, i.e. the node has booted.
        try:
            with httpx.Client(timeout=5) as client:
                reply = client.get(
                    f"http://{HOST}:{self.management_port}/api/overview",
                    auth=self.management_auth,
                )
            return reply.status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self, lines: int = 60) -> str:
        parts = []
        for path in (self.directory / "server.out", self.directory / "log" / f"{self.node}.log"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the node (by its PID) and remove its directory, whatever state it is in."""
        try:
            if self.process is not None and self.process.poll() is None:
                # The script traps SIGTERM and stops the node in order (closing connections).
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    # The group holds the script, the Erlang VM and its helpers, nothing else.
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class DeviceCredential:
    """A registered device and the credential it logs in with."""

    device_id: str
    password: str
    project: str
    group: str


@dataclass
class DeviceGateway:
    """A gateway answering the device node's auth questions, and a registrar of devices."""

    gateway: Gateway
    broker: DeviceBroker
    vhost: str
    cache_seconds: float

    @property
    def process(self) -> ServiceProcess:
        return self.gateway.process

    def client(self, role: str | None = "admin") -> httpx.Client:
        """An API client (closed by the fixture) authenticated as role."""
        return self.gateway.client(role)

    @functools.cached_property
    def admin(self) -> httpx.Client:
        return self.client("admin")

    def ensure_group(self, project: str, group: str) -> None:
        """Create the project and the group unless they exist."""
        for path, body in (
            ("/projects", {"id": project, "name": project}),
            (f"/projects/{project}/groups", {"name": group}),
        ):
            reply = self.admin.post(path, json=body)
            assert reply.status_code in (201, 409), reply.text

    def register_device(
        self, project: str, group: str, name: str | None = None
    ) -> DeviceCredential:
        """Register a device through the API (which also declares and binds its queue)."""
        self.ensure_group(project, group)
        reply = self.admin.post(
            f"/projects/{project}/devices",
            json={"name": name or f"device-{uuid.uuid4().hex[:8]}", "group": group},
        )
        assert reply.status_code == 201, reply.text
        body = reply.json()
        credential = body["credential"]
        assert credential["username"] == body["id"]
        assert credential["vhost"] == self.vhost
        return DeviceCredential(body["id"], credential["password"], project, group)

    def revoke(self, device_id: str) -> None:
        reply = self.admin.post(f"/devices/{device_id}/revoke")
        assert reply.status_code == 200, reply.text

    def amqp_url_for(self, device: DeviceCredential, vhost: str | None = None) -> str:
        """The device's login URL into the device vhost (or another one)."""
        return self.broker.amqp_url_for(
            device.device_id, device.password, self.vhost if vhost is None else vhost
        )


DeviceGatewayFactory = Callable[..., DeviceGateway]


@pytest.fixture(scope="session")
def device_broker_node() -> Iterator[DeviceBrokerNode]:
    """The second node, launched but perhaps still booting (see device_broker)."""
    node = DeviceBrokerNode()
    try:
        node.launch()
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def device_broker(device_broker_node: DeviceBrokerNode) -> DeviceBroker:
    """The second node, booted."""
    return device_broker_node.ready()


@pytest.fixture
def device_vhost(device_broker: DeviceBroker) -> Iterator[str]:
    """A fresh vhost on the device node (guest may do anything there); deleted afterwards."""
    vhost = f"iot-devices-{uuid.uuid4().hex[:10]}"
    device_broker.add_vhost(vhost)
    try:
        yield vhost
    finally:
        device_broker.delete_vhost(vhost)


@pytest.fixture
def device_services(
    device_broker_node: DeviceBrokerNode,  # first: the node boots while the database is made
    database: TestDatabase,
    device_broker: DeviceBroker,
    device_vhost: str,
    log_dir: Path,
) -> Iterator[Services]:
    """Service processes of this test, on the device node's test vhost and the test database."""
    started = Services(device_broker.guest_url(device_vhost), database.app_url, log_dir)
    try:
        yield started
    finally:
        started.stop_all()
        print(started.dump_logs())  # shown by pytest only when the test failed


@pytest.fixture
def device_gateway_factory(
    device_services: Services,
    database: TestDatabase,
    device_broker: DeviceBroker,
    device_vhost: str,
) -> Iterator[DeviceGatewayFactory]:
    """Starts the gateway the device node asks: factory(IOT_X="...") for other settings.

    Only one gateway at a time can listen on the node's auth port; a second one in a test
    must set IOT_BROKER_AUTH_PORT="0" (and then answers no broker).
    """
    started: list[DeviceGateway] = []

    def start(**env: str) -> DeviceGateway:
        settings = {
            "IOT_BROKER_AUTH_PORT": str(device_broker.auth_port),
            "IOT_DEVICE_VHOST": device_vhost,
            "IOT_BROKER_AUTH_CACHE_SECONDS": str(TEST_CACHE_SECONDS),
            **env,
        }
        gateway = start_gateway(device_services, database, **settings)
        # Logged once every listener is up, the broker-auth one included.
        logged_port(gateway.process, "broker_auth_port")
        started.append(
            DeviceGateway(
                gateway,
                device_broker,
                device_vhost,
                float(settings["IOT_BROKER_AUTH_CACHE_SECONDS"]),
            )
        )
        return started[-1]

    try:
        yield start
    finally:
        for device_gateway in started:
            for client in device_gateway.gateway.clients:
                client.close()


@pytest.fixture
def device_gateway(device_gateway_factory: DeviceGatewayFactory) -> DeviceGateway:
    """The gateway of this test on the device node, with a short broker-auth cache."""
    return device_gateway_factory()
