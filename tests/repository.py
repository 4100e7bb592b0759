"""Facts about the repository that several tests check against.

The compose, Dockerfile and Kubernetes tests all hold their files against the same things: the
console scripts pyproject.toml installs, the long-running services under services/ and the
HTTP port each one listens on by default, and the variables of .env. They are worked out once
here, so those tests cannot disagree about them.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from functools import cache
from pathlib import Path

from iot_service.settings import ServiceSettings

from tests.support import REPO

__all__ = ["REPO", "console_scripts", "default_http_port", "read_env_file", "service_packages"]


@cache
def console_scripts() -> dict[str, str]:
    """Console script name -> its entry point (`package.module:function`), from pyproject.toml."""
    with (REPO / "pyproject.toml").open("rb") as file:
        scripts: dict[str, str] = tomllib.load(file)["project"]["scripts"]
    return scripts


def _settings_classes(package: str) -> list[type[ServiceSettings]]:
    """The ServiceSettings subclasses defined (not just imported) in <package>.config."""
    module = importlib.import_module(f"{package}.config")
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]


@cache
def service_packages() -> dict[str, str]:
    """The long-running services: service folder name -> package, for every
    services/<name>/<package>/config.py that defines a ServiceSettings subclass (a tool such as
    iotctl has a config module but no service settings)."""
    found = {}
    for config in sorted(REPO.glob("services/*/*/config.py")):
        package = config.parent.name
        if _settings_classes(package):
            found[config.parents[1].name] = package
    return found


def default_http_port(service: str) -> int:
    """IOT_HTTP_PORT's default for a service (folder name), from its settings class."""
    package = service_packages()[service]
    classes = _settings_classes(package)
    assert len(classes) == 1, f"{package}.config: expected one settings class, got {classes}"
    default = classes[0].model_fields["http_port"].default
    assert isinstance(default, int)
    return default


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a compose .env file (no quoting is used in ours)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.partition("=")
        assert separator and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path}:{number}: {line!r}"
        values[key] = value
    return values
