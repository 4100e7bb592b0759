"""Per-invocation state shared by the commands: the global options and the API client.

The client is built on first use, so `iotctl --help`, `completion` and usage errors never read
the configuration file or need a key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click

from iotctl import config
from iotctl.client import ApiClient
from iotctl.errors import AuthError

OUTPUTS = ("table", "json")


@dataclass
class State:
    """What the root command parsed, and what the subcommands need from it."""

    api_url_option: str | None = None
    output: str = "table"
    config_file: Path = field(default_factory=config.config_path)
    _client: ApiClient | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"

    def stored(self) -> config.StoredConfig:
        return config.load(self.config_file)

    def api_url(self, stored: config.StoredConfig) -> str:
        """--api-url / IOT_API_URL, else the stored URL, else the local default."""
        if self.api_url_option:
            return self.api_url_option
        if stored.api_url:
            try:
                return normalize_url(stored.api_url)
            except ValueError as error:
                raise AuthError(
                    f"the config file {self.config_file} holds an invalid API URL ({error}); "
                    "run `iotctl login` again"
                ) from error
        return config.DEFAULT_API_URL

    def client(self) -> ApiClient:
        """The API client, with the key from IOT_API_KEY or the configuration file."""
        if self._client is None:
            stored = self.stored()
            env_key = os.environ.get("IOT_API_KEY", "").strip()
            key = env_key or stored.api_key
            if not key:
                raise AuthError("not logged in: run `iotctl login` (or set IOT_API_KEY)")
            hint = "check IOT_API_KEY" if env_key else "run `iotctl login`"
            self._client = ApiClient(self.api_url(stored), key, unauthorized_hint=hint)
            click.get_current_context().find_root().call_on_close(self._client.close)
        return self._client


def normalize_url(value: str) -> str:
    """An http(s) URL with a host, without the trailing slash; ValueError otherwise."""
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"{value!r} has an invalid port") from error
    return text


pass_state = click.make_pass_decorator(State)


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(State).output = value


# Also accepted after the subcommand (`iotctl get sensors -o json`), where people type it.
output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUTS),
    default=None,
    expose_value=False,
    callback=_set_output,
    help="table (default) or json (the API's JSON, one document)",
)


def _set_api_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None or not value.strip():
        return
    try:
        ctx.ensure_object(State).api_url_option = normalize_url(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


# `iotctl login --api-url URL` reads naturally; same meaning as the global option.
subcommand_api_url = click.option(
    "--api-url",
    default=None,
    expose_value=False,
    callback=_set_api_url,
    help="the api-gateway, e.g. http://127.0.0.1:8080 (same as the global --api-url)",
)
