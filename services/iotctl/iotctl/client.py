"""HTTP access to the api-gateway, and the mapping of every failure to an iotctl error class.

One `httpx.Client` per invocation (keep-alive across the many polls of `--wait`), a 10 s
timeout, `Authorization: Bearer <key>` and `User-Agent: iotctl/<version>`. Redirects are not
followed: the gateway never sends one, and following it could hand the key to another host.

httpx is imported only when a client is made: importing it takes about half a second, which
`--help` and shell completion (run on every Tab) should not pay.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from iotctl import version
from iotctl.errors import AuthError, RefusedError, UnavailableError

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS = 10.0
API_PREFIX = "/api/v1"
# A gateway's one-line detail is short; anything longer is a proxy's page and is cut.
_MAX_DETAIL = 300

Params = Mapping[str, str | int | float | bool | None]


def api_path(*parts: str) -> str:
    """`/api/v1/<part>/<part>`, each part escaped (a serial may hold characters URLs reserve)."""
    return API_PREFIX + "".join("/" + quote(part, safe="") for part in parts)


class ApiClient:
    """Calls the gateway and returns decoded JSON, or raises an `IotctlError` subclass."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        unauthorized_hint: str = "run `iotctl login`",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        import httpx  # noqa: PLC0415 - deferred on purpose, see the module docstring

        self.base_url = base_url
        self._timeout = timeout
        self._unauthorized_hint = unauthorized_hint
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            follow_redirects=False,
            # Plain http has nothing to verify; not building the default TLS context (loading
            # the CA bundle) saves a fifth of a second per run.
            verify=base_url.startswith("https://"),
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"iotctl/{version()}",
                "Accept": "application/json",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: object = None,
        unavailable: str = "the gateway is unavailable",
    ) -> Any:
        """Send one request; the decoded JSON body, or None for an empty answer (204).

        `unavailable` starts the message for a 503, which says what could not be done (for a
        command: "the gateway could not publish the command").
        """
        import httpx  # noqa: PLC0415 - already loaded by __init__; see the module docstring

        query = {key: _query_value(value) for key, value in (params or {}).items()}
        try:
            with _interrupt_after():
                response = self._http.request(
                    method,
                    path,
                    params={key: value for key, value in query.items() if value is not None},
                    json=body,
                )
        except httpx.TimeoutException as error:
            raise UnavailableError(
                f"the gateway at {self.base_url} did not answer within {self._timeout:g} s"
            ) from error
        except httpx.ConnectError as error:
            raise UnavailableError(
                f"cannot reach the gateway at {self.base_url}: {_reason(error)}"
            ) from error
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"the request to the gateway at {self.base_url} failed: {_reason(error)}"
            ) from error
        return self._decode(response, unavailable)

    def _decode(self, response: httpx.Response, unavailable: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as error:
                raise UnavailableError(
                    f"the gateway at {self.base_url} sent a response that is not JSON "
                    f"({status}, {response.headers.get('content-type', 'no content type')})"
                ) from error
        detail = error_detail(response)
        if status == 401:
            raise AuthError(
                f"the gateway refused the API key (401): {detail}; {self._unauthorized_hint}"
            )
        if status == 403:
            raise AuthError(f"permission denied (403): {detail}")
        if status == 503:
            raise UnavailableError(f"{unavailable} (503): {detail}")
        if status >= 500:
            raise UnavailableError(f"the gateway failed ({status}): {detail}")
        if status >= 400:
            raise RefusedError(f"{detail} ({status})")
        location = response.headers.get("location", "nowhere")
        raise UnavailableError(
            f"unexpected answer {status} from {self.base_url} (to {location}); is --api-url right?"
        )


def error_detail(response: httpx.Response) -> str:
    """The API's `detail` in one line: a string, or a 422's list of `{loc, msg}`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail") is not None:
        text = render_detail(body["detail"])
    elif response.headers.get("content-type", "").startswith("text/plain") and response.text:
        text = response.text
    else:
        # An HTML error page from a proxy says nothing a one-line message could use.
        text = response.reason_phrase or "no detail"
    return one_line(text)


def render_detail(detail: object) -> str:
    """Render a detail: `"msg"`, or `[{"loc": ["body", "ttl_seconds"], "msg": ...}, ...]`."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_render_item(item) for item in detail) or "invalid request"
    if isinstance(detail, dict):
        return _render_item(detail)
    return json.dumps(detail)


def _render_item(item: object) -> str:
    if not isinstance(item, dict):
        return render_detail(item)
    message = str(item.get("msg", "")) or json.dumps(item)
    location = item.get("loc")
    if isinstance(location, list | tuple) and location:
        return f"{'.'.join(str(part) for part in location)}: {message}"
    return message


def one_line(text: str) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= _MAX_DETAIL else collapsed[: _MAX_DETAIL - 1] + "…"


def _query_value(value: str | int | float | bool | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C that arrives during a request until the request is over, then raise it.

    A KeyboardInterrupt raised inside httpx can land between a lock's acquire and release in
    its connection pool; closing the client afterwards (every `--wait` and `--follow` does,
    on Ctrl-C) then waits for that lock forever. The wait is bounded by the request timeout.
    """
    if (
        threading.current_thread() is not threading.main_thread()  # only it receives signals
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # ignored or taken
    ):
        yield
        return
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
    try:
        yield
    except BaseException:
        if interrupted:  # Ctrl-C wins over how the request ended
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def _reason(error: httpx.HTTPError) -> str:
    # httpx wraps the OS error; its text ("[Errno 111] Connection refused") is the useful part.
    return one_line(str(error)) or type(error).__name__


def expect_object(document: Any, what: str) -> dict[str, Any]:
    """The decoded answer as a JSON object, or an error naming what the gateway got wrong."""
    if not isinstance(document, dict):
        raise UnavailableError(f"the gateway's answer for {what} is not a JSON object")
    return document


def expect_list(document: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    """`document[key]` as a list of objects, or an error naming what the gateway got wrong."""
    items = document.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UnavailableError(f"the gateway's answer for {what} has no `{key}` list")
    return items
