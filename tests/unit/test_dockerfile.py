"""The Dockerfile, checked without a Docker engine (dockerfile-parse), and the wheel it installs.

One image runs every service: the checks are that it is multi-stage, that the final stage is
a slim Python with only the virtual environment copied from the builder, runs as a numeric
non-root user and carries no build tools, and that every command compose and Kubernetes give
it is a console script the project really installs.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from packaging.specifiers import SpecifierSet

from tests.repository import REPO, console_scripts, service_packages
from tests.unit.test_compose import image_services

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
MIGRATIONS = REPO / "libs" / "storage" / "iot_storage" / "migrations"
UI_STATIC = REPO / "services" / "api-gateway" / "api_gateway" / "http" / "ui" / "static"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|uv|pip install|apt-get install|apk add)\b"
)

Instruction = dict[str, Any]


def stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions, one list per stage (each starting with its FROM)."""
    result: list[list[Instruction]] = []
    for instruction in DockerfileParser(path=str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result and instruction["instruction"] != "COMMENT":
            result[-1].append(instruction)
    return result


def values(stage: list[Instruction], name: str) -> list[str]:
    return [str(item["value"]) for item in stage if item["instruction"] == name]


def test_the_image_is_built_in_stages_from_a_builder() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    final = all_stages[-1]
    parents = DockerfileParser(path=str(DOCKERFILE)).parent_images
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", parents[-1]), parents[-1]
    builder_syncs = " ".join(v for stage in all_stages[:-1] for v in values(stage, "RUN"))
    assert "uv sync --frozen --no-dev --no-install-project" in builder_syncs
    assert "uv sync --frozen --no-dev --no-editable" in builder_syncs
    copies = values(final, "COPY")
    assert any(re.fullmatch(r"--from=builder /app/\.venv /app/\.venv", c) for c in copies), copies
    # Nothing but the environment: no sources, no lock file, no uv.
    assert all(c.startswith("--from=builder") for c in copies), copies


def test_the_final_stage_runs_as_a_numeric_non_root_user_without_build_tools() -> None:
    final = stages()[-1]
    users = values(final, "USER")
    assert users, "the final stage must switch user"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 1000, users[-1]
    assert not gid or (gid.isdigit() and int(gid) != 0)
    for command in values(final, "RUN"):
        assert not BUILD_TOOLS.search(command), f"build tool in the final stage: {command}"
    environment = " ".join(values(final, "ENV"))
    assert "PATH=/app/.venv/bin:$PATH" in environment
    assert "PYTHONUNBUFFERED=1" in environment
    assert "IOT_LOG_FORMAT=json" in environment
    labels = " ".join(values(final, "LABEL"))
    assert "org.opencontainers.image.source" in labels or "org.opencontainers.image.title" in labels


def test_the_python_of_the_image_satisfies_requires_python() -> None:
    version = DockerfileParser(path=str(DOCKERFILE)).parent_images[-1].split(":")[1]
    python = re.match(r"(\d+\.\d+)", version)
    assert python, version
    assert python.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = DOCKERIGNORE.read_text().splitlines()
    assert "*" in ignore, ".dockerignore should exclude everything not needed"
    for stage in stages():
        for copy in values(stage, "COPY"):
            if copy.startswith("--from"):
                continue
            for source in shlex.split(copy)[:-1]:
                assert f"!{source}" in ignore or f"!{source}/" in ignore, source
                assert (REPO / source).exists(), source


def _k8s_documents() -> Iterator[Any]:
    for path in sorted(REPO.glob("k8s/**/*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def _image_commands(node: Any) -> Iterator[list[str]]:
    """Every command/args given to a container of our image anywhere in node."""
    if isinstance(node, dict):
        image = str(node.get("image", ""))
        if image.rsplit("/", 1)[-1].partition(":")[0] == "iot-telemetry" and node.get("command"):
            yield [str(part) for part in node["command"]]
        for child in node.values():
            yield from _image_commands(child)
    elif isinstance(node, list):
        for child in node:
            yield from _image_commands(child)


def test_every_command_given_to_the_image_is_a_console_script() -> None:
    commands = [service["command"] for service in image_services().values()]
    commands += [command for doc in _k8s_documents() for command in _image_commands(doc)]
    assert commands
    for command in commands:
        assert command[0] in console_scripts(), f"{command[0]} is no console script"
    run = {command[0] for command in commands}
    assert set(service_packages()) <= run
    assert "iot-db" in run


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built the way the image's `uv sync --no-editable` builds it."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_carries_package_data_and_every_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    for sql in MIGRATIONS.glob("*.sql"):
        assert f"iot_storage/migrations/{sql.name}" in names, f"{sql.name} is not in the wheel"
    for static in UI_STATIC.rglob("*"):
        if static.is_file():
            relative = static.relative_to(UI_STATIC.parents[3]).as_posix()
            assert relative in names, f"{relative} is not in the wheel"
    for script in console_scripts():
        assert re.search(rf"^{re.escape(script)} = ", scripts, re.MULTILINE), script
