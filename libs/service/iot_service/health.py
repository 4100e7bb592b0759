"""Liveness, readiness and /metrics on one small HTTP server, in a thread of its own.

The server runs outside the event loop so that a scrape or a probe never waits on the
service's work; the event loop proves it is alive by touching a heartbeat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]
# The event loop must touch the heartbeat at least this often to count as alive.
STALE_HEARTBEAT_SECONDS = 30.0


class Health:
    """Named readiness conditions plus an event-loop heartbeat; thread-safe."""

    def __init__(self, *conditions: str) -> None:
        self._lock = threading.Lock()
        self._ready = dict.fromkeys(conditions, False)
        self._heartbeat = time.monotonic()

    def set(self, condition: str, ready: bool) -> None:
        """Mark one condition (for example 'amqp' or 'database') as met or not."""
        with self._lock:
            self._ready[condition] = ready

    def beat(self) -> None:
        """Record that the event loop is still running."""
        self._heartbeat = time.monotonic()

    def alive(self) -> bool:
        """True while the event loop has beaten recently."""
        return time.monotonic() - self._heartbeat < STALE_HEARTBEAT_SECONDS

    def not_ready(self) -> list[str]:
        """The conditions that are not met, empty when the service is ready."""
        with self._lock:
            return sorted(name for name, ok in self._ready.items() if not ok)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the service's own logs."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class HealthServer:
    """Serves /livez, /readyz and /metrics for one service."""

    def __init__(
        self, health: Health, registry: CollectorRegistry, host: str = "0.0.0.0", port: int = 0
    ) -> None:
        self._health = health
        self._metrics_app = make_wsgi_app(registry)
        self._server = make_server(
            host, port, self._app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = self._metrics_app(environ, start_response)
            return body
        if path in ("/livez", "/healthz"):
            ok = self._health.alive()
            return _text(start_response, ok, "alive" if ok else "event loop stalled")
        if path == "/readyz":
            missing = self._health.not_ready()
            return _text(
                start_response,
                not missing,
                "not ready: " + ", ".join(missing) if missing else "ready",
            )
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]


def _text(start_response: StartResponse, ok: bool, text: str) -> list[bytes]:
    start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
    return [text.encode() + b"\n"]
