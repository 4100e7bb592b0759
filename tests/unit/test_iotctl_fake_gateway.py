"""A small real HTTP server that answers like the api-gateway contract, for the iotctl tests.

It listens on 127.0.0.1 on a free port, checks `Authorization: Bearer <key>` the way the
gateway does (401 with a `detail`), records every request, and answers from canned routes: a
fixed answer, a sequence of answers (one per request, the last repeated: a command's status
moving on between polls) or a function of the request. The tests at the bottom check the fake
itself, so a broken fake is not mistaken for a broken CLI.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from click.testing import CliRunner, Result
from iotctl import config
from iotctl.cli import cli

API_KEY = "iot_test_0123456789abcdef"
WHOAMI = {"name": "ops-key", "role": "operator", "prefix": "iot_test", "expires_at": None}
T0 = "2026-11-23T10:00:00Z"


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    raw: bytes | None = None  # sent as is (not JSON), for malformed answers
    content_type: str = "application/json"


Handler = Callable[[Request], Answer]


@dataclass
class FakeGateway:
    """The server's routes and the requests it received."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    valid_keys: set[str] = field(default_factory=lambda: {API_KEY})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, path: str, *answers: Answer | Any) -> None:
        """Answer `method path` with these answers in turn, the last one repeated."""
        queue = [
            answer if isinstance(answer, Answer) else Answer(body=answer) for answer in answers
        ]

        def handler(_request: Request) -> Answer:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.routes[(method, path)] = handler

    def handle(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                request
                for request in self.requests
                if (method is None or request.method == method)
                and (path is None or request.path == path)
            ]

    def answer(self, request: Request) -> Answer:
        with self.lock:
            self.requests.append(request)
        if request.headers.get("authorization") not in {f"Bearer {key}" for key in self.valid_keys}:
            return Answer(401, {"detail": "missing, unknown, expired or revoked API key"})
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return Answer(404, {"detail": f"no route {request.method} {request.path}"})
        return handler(request)


def _handler_class(gateway: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the gateway (uvicorn) does

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=unquote(parts.path),
                query=parse_qs(parts.query),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            answer = gateway.answer(request)
            if answer.raw is not None:
                payload = answer.raw
            elif answer.body is None:
                payload = b""
            else:
                payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            if payload:
                self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    return _Handler


@contextmanager
def running_gateway() -> Iterator[FakeGateway]:
    """Serve a FakeGateway on 127.0.0.1:<free port> in a thread for the `with` block."""
    gateway = FakeGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(gateway))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    gateway.url = f"http://{host!s}:{port}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-gateway", daemon=True
    )
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Cli:
    """Runs iotctl in-process (click's CliRunner) with its own config file and environment."""

    config_file: Path
    gateway: FakeGateway

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input)

    def log_in(self, key: str = API_KEY) -> None:
        config.save(self.config_file, config.StoredConfig(api_url=self.gateway.url, api_key=key))

    def stored(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.config_file.read_text())
        return loaded


def isolated_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: FakeGateway) -> Cli:
    """A Cli whose config file is in tmp_path, logged in to `gateway`; no IOT_* variables."""
    config_file = tmp_path / "home" / ".config" / "iotctl" / "config.json"
    monkeypatch.setenv("IOTCTL_CONFIG", str(config_file))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("IOT_API_KEY", "IOT_API_URL", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    runner = Cli(config_file, gateway)
    runner.log_in()
    return runner


# Canned documents shaped as in services/api-gateway/README.md.


def sensor(serial: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "serial_number": serial,
        "kind": "accelerometer",
        "target": "pump-1",
        "firmware_version": "sim-0.1.0",
        "registered_at": T0,
        "state": "online",
        "online": True,
        "last_seen_at": T0,
        "last_measurement_at": T0,
        "last_heartbeat_at": T0,
        "desired": {"asleep": None, "sample_frequency_hz": None, "updated_at": None},
        "reported": {"asleep": False, "sample_frequency_hz": 200.0, "updated_at": T0},
        "in_sync": True,
    }
    document.update(overrides)
    return document


def command(
    command_id: str, serial: str, status: str = "pending", **overrides: Any
) -> dict[str, Any]:
    final = status in {"applied", "rejected", "expired", "failed"}
    document: dict[str, Any] = {
        "command_id": command_id,
        "request_id": "7d0c6a52-0000-4000-8000-000000000001",
        "serial_number": serial,
        "action": "sleep",
        "sample_frequency_hz": None,
        "status": status,
        "reason": None,
        "issued_by": "ops-key",
        "issued_at": T0,
        "expires_at": "2026-11-23T11:00:00Z",
        "delivered_at": None if status == "pending" else "2026-11-23T10:00:01Z",
        "completed_at": "2026-11-23T10:00:02Z" if final else None,
        "reported": {"asleep": True, "sample_frequency_hz": 200.0} if status == "applied" else None,
    }
    document.update(overrides)
    return document


def test_the_fake_refuses_a_missing_key_and_records_the_request() -> None:
    with running_gateway() as gateway:
        gateway.route("GET", "/api/v1/whoami", WHOAMI)
        assert httpx.get(f"{gateway.url}/api/v1/whoami").status_code == 401
        answer = httpx.get(
            f"{gateway.url}/api/v1/whoami", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert answer.json() == WHOAMI
        assert [request.headers.get("authorization") for request in gateway.received()] == [
            None,
            f"Bearer {API_KEY}",
        ]


def test_the_fake_answers_a_sequence_then_repeats_the_last() -> None:
    with running_gateway() as gateway:
        gateway.route("GET", "/api/v1/commands/c1", {"n": 1}, {"n": 2})
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=gateway.url, headers=headers) as client:
            seen = [client.get("/api/v1/commands/c1").json()["n"] for _ in range(3)]
        assert seen == [1, 2, 2]
