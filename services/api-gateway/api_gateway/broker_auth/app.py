"""The broker-auth endpoints that RabbitMQ's HTTP auth backend calls, as a small ASGI app.

`POST /rabbitmq/auth/{user,vhost,resource,topic}`, form-encoded, answered `allow` or `deny`
(text/plain, 200) by DevicePolicy. Internal users never reach these endpoints (RabbitMQ asks its
internal database first), so every user name here should be a device id.

Deny by default: a malformed question, a user name that is not a device id, a failed or slow
device lookup, or an unexpected error is answered `deny`, never with an error status, which
RabbitMQ would also treat as a refusal but with less to go on. Each denial is logged with its
reason (the password never); each answer is counted by endpoint and result, where `error`
marks a denial caused by a failure here rather than by the rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from iot_routing import is_device_id
from iot_service import ServiceMetrics
from iot_storage.device_credentials import secret_matches
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api_gateway.broker_auth.directory import DeviceDirectory, DeviceEntry, Fetch
from api_gateway.broker_auth.forms import MalformedRequestError, fields, parse_form, read_body
from api_gateway.broker_auth.policy import (
    Decision,
    DevicePolicy,
    DeviceRecord,
    ResourceQuestion,
    TopicQuestion,
    deny,
)

PREFIX = "/rabbitmq/auth"
# Below the broker's auth_http.request_timeout (dependencies/rabbitmq/rabbitmq.conf): a slow
# database gets a clear denial here rather than a timeout there.
LOOKUP_TIMEOUT_SECONDS = 3.0
# Fields worth a log line; anything else RabbitMQ sends (tags, variable maps) is noise, and the
# password is never logged.
_LOGGED_FIELDS = ("username", "vhost", "resource", "name", "permission", "routing_key", "ip")
_MAX_LOGGED_CHARS = 200

Question = Callable[[dict[str, str]], Awaitable[Decision]]


class LookupFailedError(Exception):
    """The device directory could not answer (database down or slow)."""


class BrokerAuth:
    """Answers RabbitMQ's four questions about devices."""

    def __init__(
        self, directory: DeviceDirectory, policy: DevicePolicy, metrics: ServiceMetrics, log: Any
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._log = log
        self._decisions = metrics.counter(
            "broker_auth_decisions",
            "RabbitMQ auth questions answered, by endpoint and result (allow, deny, error)",
            ["endpoint", "result"],
        )
        self._seconds = metrics.histogram(
            "broker_auth_request_seconds", "Time to answer RabbitMQ", labels=["endpoint"]
        )
        self.questions: dict[str, Question] = {
            "user": self.user,
            "vhost": self.vhost,
            "resource": self.resource,
            "topic": self.topic,
        }

    async def user(self, form: dict[str, str]) -> Decision:
        username, password = fields(form, "username", "password")
        entry = await self._device(username)
        if entry is None:
            return self._policy.login(None, password_matches=False)
        matches = secret_matches(password, entry.secret_hash)
        return self._policy.login(entry.record, password_matches=matches)

    async def vhost(self, form: dict[str, str]) -> Decision:
        username, vhost = fields(form, "username", "vhost")
        return self._policy.vhost_access(await self._record(username), vhost)

    async def resource(self, form: dict[str, str]) -> Decision:
        username, *asked = fields(form, "username", "vhost", "resource", "name", "permission")
        question = ResourceQuestion(*asked)
        return self._policy.resource_access(await self._record(username), question)

    async def topic(self, form: dict[str, str]) -> Decision:
        username, *asked = fields(
            form, "username", "vhost", "resource", "name", "permission", "routing_key"
        )
        question = TopicQuestion(*asked)
        return self._policy.topic_access(await self._record(username), question)

    async def answer(self, endpoint: str, request: Request) -> PlainTextResponse:
        """Read, decide, count and log one question; never raises."""
        started = time.perf_counter()
        form: dict[str, str] = {}
        result = "error"
        try:
            body = await read_body(request.headers.get("content-length"), request.stream())
            form = parse_form(request.headers.get("content-type"), body)
            decision = await self.questions[endpoint](form)
            result = decision.answer
        except MalformedRequestError as exc:
            decision, result = deny(f"malformed request: {exc}"), "deny"
        except _NotADeviceError:
            decision, result = deny("not a device user name"), "deny"
        except LookupFailedError as exc:
            decision = deny(f"device lookup failed: {exc}")
        except Exception as exc:  # deny by default: a bug here must not let anyone in
            self._log.exception("broker auth failed", endpoint=endpoint)
            decision = deny(f"internal error: {type(exc).__name__}")
        self._decisions.labels(endpoint, result).inc()
        self._seconds.labels(endpoint).observe(time.perf_counter() - started)
        if decision.allowed:
            self._log.debug("broker auth allowed", endpoint=endpoint, **_loggable(form))
        else:
            self._log.warning(
                "broker auth denied", endpoint=endpoint, reason=decision.reason, **_loggable(form)
            )
        return PlainTextResponse(decision.answer)

    async def _device(self, username: str) -> DeviceEntry | None:
        # Not worth a query: device ids have one shape, and internal users never get here.
        if not is_device_id(username):
            raise _NotADeviceError
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_SECONDS):
                return await self._directory.get(username)
        except TimeoutError:
            raise LookupFailedError("timed out") from None
        except Exception as exc:
            # The driver's message (never a query parameter), cut short: it goes into the log.
            raise LookupFailedError(f"{type(exc).__name__}: {exc}"[:_MAX_LOGGED_CHARS]) from exc

    async def _record(self, username: str) -> DeviceRecord | None:
        entry = await self._device(username)
        return None if entry is None else entry.record


class _NotADeviceError(Exception):
    """A user name that cannot be a device id."""


def _loggable(form: dict[str, str]) -> dict[str, str]:
    # Values come from whoever reached the port: cut them short.
    return {name: form[name][:_MAX_LOGGED_CHARS] for name in _LOGGED_FIELDS if name in form}


def create_broker_auth_app(
    fetch: Fetch, *, vhost: str, cache_seconds: float, metrics: ServiceMetrics, log: Any
) -> Starlette:
    """The ASGI app of the broker-auth listener."""
    lookups = metrics.counter(
        "broker_auth_lookups",
        "Device lookups by outcome (cached, shared, fetched, failed)",
        ["outcome"],
    )
    directory = DeviceDirectory(
        fetch, cache_seconds, observe=lambda outcome: lookups.labels(outcome).inc()
    )
    auth = BrokerAuth(directory, DevicePolicy(vhost), metrics, log)

    def route(endpoint: str) -> Route:
        async def handle(request: Request) -> PlainTextResponse:
            return await auth.answer(endpoint, request)

        return Route(f"{PREFIX}/{endpoint}", handle, methods=["POST"], name=endpoint)

    return Starlette(routes=[route(endpoint) for endpoint in auth.questions])
