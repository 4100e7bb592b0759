"""compose.yaml, .env and the Prometheus configuration, checked without a Docker engine.

The variables are interpolated from .env the way `docker compose` does, the result is parsed
and validated by compose-spec (a strict parser of the Compose specification), and the
platform's own rules are checked on top: healthchecks, start order, one user per service,
local-only ports, pinned images, files that exist, every service scraped by Prometheus.

compose.logs.yaml (Loki and Alloy, layered on top) is merged into compose.yaml the way compose
merges files, and the result is held to the same rules, plus its own: the logs-ingester's file
lies on a volume Alloy reads, Alloy's configuration names that file and the fields the service
writes, and Grafana provisions the Loki datasource next to the others.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from compose_spec import PyCompose
from logs_ingester.decode import LogEntry
from logs_ingester.logfmt import format_line

from tests.repository import REPO, read_env_file, service_packages

COMPOSE_FILE = REPO / "compose.yaml"
LOGS_COMPOSE_FILE = REPO / "compose.logs.yaml"
ENV_FILE = REPO / ".env"
DEFINITIONS = REPO / "dependencies" / "rabbitmq" / "definitions.json"
PROMETHEUS_CONFIG = REPO / "dependencies" / "prometheus" / "prometheus.yml"
LOKI_CONFIG = REPO / "dependencies" / "loki" / "loki.yaml"
ALLOY_CONFIG = REPO / "dependencies" / "alloy" / "config.alloy"
GRAFANA_PROVISIONING = REPO / "dependencies" / "grafana" / "provisioning"
DOCKERFILE = REPO / "Dockerfile"
IMAGE = "iot-telemetry"
RABBITMQ_METRICS_PORT = 15692

_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\})")


def interpolate(text: str, env: dict[str, str]) -> tuple[str, set[str]]:
    """text with $${VAR}, ${VAR:-default} and ${VAR-default} replaced; and the undefined names."""
    undefined = set()

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name, operator, default = match.group(2), match.group(3), match.group(4)
        value = env.get(name)
        if operator == ":-" and not value:
            return str(default)
        if operator == "-" and value is None:
            return str(default)
        if value is None:
            undefined.add(name)
            return ""
        return value

    return _VARIABLE.sub(replace, text), undefined


def load_compose_file(path: Path) -> tuple[str, dict[str, Any]]:
    """A compose file interpolated from .env (every variable must be defined there): the text
    and the document."""
    text, undefined = interpolate(path.read_text(), read_env_file(ENV_FILE))
    assert not undefined, f"variables used in {path.name} but not defined in .env: {undefined}"
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return text, document


@cache
def compose() -> dict[str, Any]:
    """compose.yaml, interpolated from .env and validated by compose-spec."""
    text, document = load_compose_file(COMPOSE_FILE)
    PyCompose.from_yaml(text).validate()
    return document


def _as_mapping(value: Any) -> dict[str, Any]:
    """environment/labels as a mapping (compose also accepts a list of KEY=value)."""
    if isinstance(value, dict):
        return dict(value)
    return dict(item.partition("=")[::2] for item in value)


def _dependencies(value: Any) -> dict[str, Any]:
    """depends_on as a mapping (a list means: started)."""
    if isinstance(value, dict):
        return dict(value)
    return {name: {"condition": "service_started"} for name in value}


def volume_target(entry: str | dict[str, Any]) -> str:
    """The container path of a volumes entry, short (source:target[:mode]) or long syntax."""
    if isinstance(entry, dict):
        return str(entry["target"])
    parts = entry.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _merge_mappings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    # Nested mappings (healthcheck, deploy, ...) merge key by key; a sequence inside them
    # (healthcheck.test) is replaced whole.
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge_mappings(result[key], value)
        else:
            result[key] = value
    return result


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """One service of a later compose file applied to an earlier one, as `docker compose`
    merges them (the compose specification's merge rules, for the keys used here)."""
    result = dict(base)
    for key, value in override.items():
        if key not in result:
            result[key] = value
        elif key in ("environment", "labels"):
            result[key] = {**_as_mapping(result[key]), **_as_mapping(value)}
        elif key == "depends_on":
            result[key] = _merge_mappings(_dependencies(result[key]), _dependencies(value))
        elif key == "volumes":
            # Unique by container path: a later mount of the same path replaces the earlier.
            by_target = {volume_target(entry): entry for entry in result[key]}
            by_target.update({volume_target(entry): entry for entry in value})
            result[key] = list(by_target.values())
        elif key in ("command", "entrypoint"):
            result[key] = value
        elif isinstance(value, dict) and isinstance(result[key], dict):
            result[key] = _merge_mappings(result[key], value)
        elif isinstance(value, list) and isinstance(result[key], list):
            # ports, tmpfs, dns, ...: appended, without repeating an entry.
            result[key] = result[key] + [item for item in value if item not in result[key]]
        else:
            result[key] = value
    return result


def merge_compose(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`docker compose -f base -f override`: services merged one by one, new ones added; the
    top-level volumes/networks/... mappings merged by name; scalars (name) replaced."""
    result = dict(base)
    for key, value in override.items():
        if key == "services":
            merged = dict(result.get("services") or {})
            for name, service in value.items():
                merged[name] = merge_service(merged[name], service) if name in merged else service
            result["services"] = merged
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    return result


@cache
def compose_with_logs() -> dict[str, Any]:
    """compose.yaml with compose.logs.yaml layered on top, validated by compose-spec."""
    _, layer = load_compose_file(LOGS_COMPOSE_FILE)
    document = merge_compose(compose(), layer)
    PyCompose.from_yaml(yaml.safe_dump(document)).validate()
    return document


# Both ways of starting the platform; the general rules hold for each.
VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "compose.yaml": compose,
    "compose.yaml+compose.logs.yaml": compose_with_logs,
}


def services(document: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    result = (compose() if document is None else document)["services"]
    assert isinstance(result, dict)
    return result


def image_services(document: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The services running our image (of compose.yaml unless another document is given)."""
    return {
        name: service
        for name, service in services(document).items()
        if str(service.get("image", "")).split(":")[0].endswith(IMAGE)
    }


def one_shot_services(document: dict[str, Any] | None = None) -> set[str]:
    """Services others wait for to complete: jobs, not servers (of compose.yaml unless another
    document is given)."""
    return {
        dependency
        for service in services(document).values()
        for dependency, condition in service.get("depends_on", {}).items()
        if condition.get("condition") == "service_completed_successfully"
    }


def http_port(service: dict[str, Any]) -> int:
    return int(service["environment"]["IOT_HTTP_PORT"])


def test_the_env_parser_and_interpolation() -> None:
    text, undefined = interpolate("${A} ${B:-x} ${C-y} ${D:-} $${E} ${F}", {"A": "1", "C": ""})
    assert text == "1 x   ${E} "
    assert undefined == {"F"}


def test_compose_is_valid_and_every_variable_is_defined() -> None:
    assert {"rabbitmq", "timescaledb", "migrate", "prometheus", "grafana"} <= set(services())


def test_every_long_running_service_runs_from_the_image() -> None:
    expected = set(service_packages())
    assert expected >= {"api-gateway", "measurements-ingester", "sensor-simulator"}
    commands = {name: service.get("command") for name, service in image_services().items()}
    for name in expected:
        assert commands.get(name) == [name], f"{name}: expected command [{name!r}]"


@pytest.mark.parametrize("variant", ["compose.yaml", "with compose.logs.yaml"])
def test_the_image_is_built_once_and_never_pulled(variant: str) -> None:
    # Several services with `build:` for one tag build it once each, racing for the tag.
    document = compose() if variant == "compose.yaml" else compose_with_logs()
    ours = image_services(document)
    assert [name for name, service in ours.items() if "build" in service] == ["migrate"]
    assert all(
        service.get("pull_policy") == "never" for name, service in ours.items() if name != "migrate"
    )


def test_every_server_has_a_healthcheck_and_one_shot_jobs_do_not_restart() -> None:
    jobs = one_shot_services()
    assert jobs == {"migrate"}
    for name, service in services().items():
        if name in jobs:
            assert service.get("restart") == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_services_probe_their_own_readiness_endpoint_without_curl() -> None:
    for name, service in image_services().items():
        if name in one_shot_services():
            continue
        test = " ".join(service["healthcheck"]["test"])
        assert test.startswith("CMD python -c"), name
        assert f"http://127.0.0.1:{http_port(service)}/readyz" in test, name


def test_every_dependency_waits_for_a_condition() -> None:
    allowed = {"service_healthy", "service_completed_successfully"}
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        for dependency, condition in depends_on.items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            assert condition.get("condition") in allowed, f"{name} -> {dependency}"
    for name in service_packages().keys() - {"sensor-simulator"}:
        conditions = {
            dependency: value["condition"]
            for dependency, value in services()[name]["depends_on"].items()
        }
        assert conditions == {
            "rabbitmq": "service_healthy",
            "timescaledb": "service_healthy",
            "migrate": "service_completed_successfully",
        }, name


def test_the_simulator_runs_several_replicas_with_host_names_of_their_own() -> None:
    simulator = services()["sensor-simulator"]
    assert int(simulator["deploy"]["replicas"]) >= 2
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in simulator, f"sensor-simulator must not set {fixed} (replicas)"
    assert "IOT_SENSOR_SERIAL" not in simulator.get("environment", {})


def test_the_simulator_leaves_the_consumers_queues_to_the_definitions() -> None:
    # Its RabbitMQ user may not declare them (definitions.json creates them at boot).
    environment = services()["sensor-simulator"]["environment"]
    assert environment["IOT_DECLARE_TOPOLOGY"] == "false"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_mounted_host_path_exists_and_named_volumes_are_declared(variant: str) -> None:
    document = VARIANTS[variant]()
    declared = set(document.get("volumes") or {})
    used = set()
    for name, service in services(document).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                used.add(source)
    assert used, "no named volumes: data would not survive a container"
    assert used <= declared, f"undeclared volumes: {used - declared}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_ports_are_published_on_loopback_only(variant: str) -> None:
    for name, service in services(VARIANTS[variant]()).items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"
    published = {port.rsplit(":", 1)[1] for port in services()["api-gateway"]["ports"]}
    assert "8081" not in published, "the broker-auth listener must stay on the compose network"
    assert services()["api-gateway"]["environment"]["IOT_BROKER_AUTH_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("variant", VARIANTS)
def test_images_are_pinned(variant: str) -> None:
    for name, service in services(VARIANTS[variant]()).items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
        assert "${" not in image


def test_passwords_live_in_env_only_and_are_marked_local() -> None:
    text = COMPOSE_FILE.read_text()
    env = read_env_file(ENV_FILE)
    for key, value in env.items():
        if "PASSWORD" in key:
            assert value.endswith("-local-dev-only"), key
            assert value not in text, f"{key}'s value is written into compose.yaml"


def test_services_use_their_own_broker_user_and_the_app_database_role() -> None:
    for name in service_packages():
        environment = services()[name]["environment"]
        amqp = urlsplit(environment["IOT_AMQP_URL"])
        assert (amqp.username, amqp.hostname) == (name, "rabbitmq"), name
        if "IOT_DATABASE_URL" in environment:
            database = urlsplit(environment["IOT_DATABASE_URL"])
            assert (database.username, database.hostname) == ("iot_app", "timescaledb")
            assert database.path == "/iot"
    migrate = services()["migrate"]["environment"]
    assert urlsplit(migrate["IOT_MIGRATE_DATABASE_URL"]).username == "iot_owner"


def _rabbitmq_sha256_matches(password: str, password_hash: str) -> bool:
    # rabbit_password_hashing_sha256: base64(salt (4 bytes) + sha256(salt + password)).
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def test_broker_users_exist_in_the_definitions_with_the_env_passwords() -> None:
    assert DEFINITIONS.exists(), "dependencies/rabbitmq/definitions.json is missing"
    users = {user["name"]: user for user in json.loads(DEFINITIONS.read_text())["users"]}
    for name, service in image_services().items():
        url = service.get("environment", {}).get("IOT_AMQP_URL")
        if url is None:
            continue
        parts = urlsplit(url)
        assert parts.username in users, f"{name}: no RabbitMQ user {parts.username}"
        user = users[parts.username]
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert parts.password and _rabbitmq_sha256_matches(parts.password, user["password_hash"])


def test_rabbitmq_loads_its_configuration_plugins_and_definitions() -> None:
    mounts = {
        volume.split(":")[1]: volume.split(":")[0] for volume in services()["rabbitmq"]["volumes"]
    }
    assert mounts["/etc/rabbitmq/conf.d/20-iot.conf"] == "./dependencies/rabbitmq/rabbitmq.conf"
    assert mounts["/etc/rabbitmq/enabled_plugins"] == "./dependencies/rabbitmq/enabled_plugins"
    assert mounts["/etc/rabbitmq/definitions.json"] == "./dependencies/rabbitmq/definitions.json"
    snippet = REPO / mounts["/etc/rabbitmq/conf.d/30-definitions.conf"]
    assert "load_definitions = /etc/rabbitmq/definitions.json" in snippet.read_text()
    plugins = (REPO / "dependencies/rabbitmq/enabled_plugins").read_text()
    for plugin in (
        "rabbitmq_prometheus",
        "rabbitmq_mqtt",
        "rabbitmq_stream",
        "rabbitmq_management",
    ):
        assert plugin in plugins


def test_timescaledb_runs_the_init_scripts_and_the_tuned_configuration() -> None:
    database = services()["timescaledb"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in database["volumes"]}
    initdb = REPO / mounts["/docker-entrypoint-initdb.d"]
    assert (initdb / "10-iot-roles.sh").exists()
    config = mounts["/etc/postgresql/postgresql.conf"]
    assert (REPO / config).is_file()
    assert "config_file=/etc/postgresql/postgresql.conf" in database["command"]
    for variable in ("OWNER", "APP", "READONLY", "MONITOR"):
        assert database["environment"][f"IOT_DB_{variable}_PASSWORD"]
    profiles = {
        profile for service in services().values() for profile in service.get("profiles", [])
    }
    assert "replica" in profiles


def _scrape_targets() -> dict[tuple[str, int], set[str]]:
    """(host, port) -> metrics paths of every target in prometheus.yml."""
    document = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert document["global"]["scrape_interval"] == "15s"
    targets: dict[tuple[str, int], set[str]] = {}
    for job in document["scrape_configs"]:
        path = job.get("metrics_path", "/metrics")
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.setdefault((host, int(port)), set()).add(path)
        for dns in job.get("dns_sd_configs", []):
            assert dns["type"] == "A"
            for name in dns["names"]:
                targets.setdefault((name, int(dns["port"])), set()).add(path)
    return targets


def test_prometheus_scrapes_every_service_and_rabbitmq_by_compose_name() -> None:
    targets = _scrape_targets()
    for host, _ in targets:
        assert host in services(), f"scrape target {host} is no compose service"
    for name in service_packages():
        assert (name, http_port(services()[name])) in targets, f"{name} is not scraped"
    rabbitmq_paths = targets[("rabbitmq", RABBITMQ_METRICS_PORT)]
    assert {"/metrics", "/metrics/detailed"} <= rabbitmq_paths
    assert ("prometheus", 9090) in targets


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_observability_services_mount_their_configuration(service: str) -> None:
    sources = [volume.split(":")[0] for volume in services()[service]["volumes"]]
    assert any(source.startswith(f"./dependencies/{service}") for source in sources)


# --- compose.logs.yaml: Loki and Alloy layered on top ------------------------------------------


@dataclass(frozen=True)
class Mount:
    source: str  # ./host/path for a bind mount, else the named volume
    target: PurePosixPath
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/"))


def mounts(service: dict[str, Any]) -> list[Mount]:
    result = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), f"long volume syntax is not used here: {entry}"
        source, target, *mode = entry.split(":")
        result.append(Mount(source, PurePosixPath(target), "ro" in mode))
    return result


def _is_under(path: PurePosixPath, directory: PurePosixPath) -> bool:
    return path == directory or directory in path.parents


def container_files(service: dict[str, Any]) -> dict[PurePosixPath, Path]:
    """Container path -> host file of everything the service's bind mounts show: a deeper
    mount hides what a shallower one has below its path (Docker mounts parents first)."""
    files: dict[PurePosixPath, Path] = {}
    binds = [mount for mount in mounts(service) if mount.is_bind]
    for mount in sorted(binds, key=lambda mount: len(mount.target.parts)):
        files = {path: host for path, host in files.items() if not _is_under(path, mount.target)}
        host = REPO / mount.source
        if host.is_dir():
            for file in host.rglob("*"):
                if file.is_file():
                    files[mount.target / file.relative_to(host).as_posix()] = file
        else:
            files[mount.target] = host
    return files


def alloy_blocks(text: str, header: str) -> Iterator[str]:
    """The bodies of the Alloy blocks opened by `header {` (braces matched, comments dropped)."""
    text = re.sub(r"^\s*//[^\n]*", "", text, flags=re.MULTILINE)
    for match in re.finditer(re.escape(header) + r"\s*\{", text):
        depth, start = 1, match.end()
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                yield text[start:index]
                break


def alloy_attributes(block: str) -> dict[str, str]:
    """The `"key" = "value"` pairs of a block (the object literals the stages use)."""
    return dict(re.findall(r'"?([\w.]+)"?\s*=\s*"([^"]*)"', block))


def logfmt_fields(line: str) -> dict[str, str]:
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line)
    return {key: value.strip('"') for key, value in pairs}


def logs_services() -> dict[str, dict[str, Any]]:
    return services(compose_with_logs())


def _logs_file() -> PurePosixPath:
    return PurePosixPath(logs_services()["logs-ingester"]["environment"]["IOT_LOGS_FILE"])


def _logs_volume() -> Mount:
    """The logs-ingester's mount holding IOT_LOGS_FILE."""
    holding = [
        mount
        for mount in mounts(logs_services()["logs-ingester"])
        if _is_under(_logs_file(), mount.target)
    ]
    assert len(holding) == 1, f"IOT_LOGS_FILE={_logs_file()} lies on no mounted volume"
    return holding[0]


def _mount_of(service: str, volume: str) -> Mount:
    found = [mount for mount in mounts(logs_services()[service]) if mount.source == volume]
    assert len(found) == 1, f"{service} does not mount the volume {volume}"
    return found[0]


def test_the_merge_follows_the_compose_rules() -> None:
    base: dict[str, Any] = {
        "name": "a",
        "services": {
            "s": {
                "image": "x:1",
                "command": ["a", "b"],
                "environment": ["A=1", "B=2"],
                "volumes": ["./x:/x:ro", "data:/data"],
                "ports": ["127.0.0.1:1:1"],
                "depends_on": {"db": {"condition": "service_healthy"}},
                "healthcheck": {"test": ["CMD", "a"], "interval": "5s"},
            }
        },
        "volumes": {"data": None},
    }
    layer: dict[str, Any] = {
        "services": {
            "s": {
                "command": ["c"],
                "environment": {"B": "3", "C": "4"},
                "volumes": ["./y:/x", "logs:/logs"],
                "ports": ["127.0.0.1:2:2"],
                "depends_on": ["init"],
                "healthcheck": {"test": ["CMD", "b"]},
            },
            "t": {"image": "y:1"},
        },
        "volumes": {"logs": None},
    }
    merged = merge_compose(base, layer)
    service = merged["services"]["s"]
    assert service["command"] == ["c"]
    assert service["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert service["volumes"] == ["./y:/x", "data:/data", "logs:/logs"]
    assert service["ports"] == ["127.0.0.1:1:1", "127.0.0.1:2:2"]
    assert service["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "init": {"condition": "service_started"},
    }
    assert service["healthcheck"] == {"test": ["CMD", "b"], "interval": "5s"}
    assert merged["services"]["t"] == {"image": "y:1"}
    assert set(merged["volumes"]) == {"data", "logs"} and merged["name"] == "a"
    assert base["services"]["s"]["environment"] == ["A=1", "B=2"], "the base was changed"


def test_the_logs_layer_adds_loki_and_alloy_and_keeps_the_base_services() -> None:
    layered = logs_services()
    assert {"loki", "alloy"} <= set(layered)
    for name, service in services().items():
        assert layered[name]["image"] == service["image"]
        if name not in ("logs-ingester", "grafana"):
            assert layered[name] == service, f"compose.logs.yaml changes {name}"
    environment = layered["logs-ingester"]["environment"]
    assert environment["IOT_AMQP_URL"] == services()["logs-ingester"]["environment"]["IOT_AMQP_URL"]
    assert _logs_file() == PurePosixPath("/var/log/iot/sensor-logs.log")


def test_the_logs_layer_keeps_healthchecks_and_waits_for_conditions() -> None:
    layered = logs_services()
    jobs = one_shot_services(compose_with_logs())
    assert jobs == {"migrate", "logs-volume-init"}
    allowed = {"service_healthy", "service_completed_successfully"}
    for name, service in layered.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in layered and condition["condition"] in allowed, name
        if name in jobs:
            assert service.get("restart") == "no", name
        else:
            test = service.get("healthcheck", {}).get("test")
            assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    loki = layered["loki"]["healthcheck"]["test"]
    port = yaml.safe_load(LOKI_CONFIG.read_text())["server"]["http_listen_port"]
    assert f"http://127.0.0.1:{port}/ready" in loki
    assert [mapping.rsplit(":", 1)[1] for mapping in layered["loki"]["ports"]] == [str(port)]


def test_the_logs_file_lies_on_a_named_volume_that_alloy_reads() -> None:
    volume = _logs_volume()
    assert not volume.is_bind, "a bind mount would tie the file to the host's ownership"
    assert not volume.read_only, "the logs-ingester must be able to write its file"
    assert volume.source in (compose_with_logs().get("volumes") or {})
    alloy = _mount_of("alloy", volume.source)
    assert alloy.read_only, "Alloy only reads the file"
    # The file as Alloy sees it, and the path its configuration tails.
    seen_by_alloy = alloy.target / _logs_file().relative_to(volume.target)
    paths = re.findall(r'"__path__"\s*=\s*"([^"]+)"', ALLOY_CONFIG.read_text())
    assert paths == [str(seen_by_alloy)]


def test_the_logs_volume_is_handed_to_the_image_user_before_anyone_uses_it() -> None:
    # Named volumes start owned by root; the image has no such directory to copy ownership from.
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert user, "the Dockerfile sets no numeric USER"
    volume = _logs_volume()
    owners = [
        name
        for name, service in logs_services().items()
        if name not in ("logs-ingester", "alloy")
        and any(mount.source == volume.source for mount in mounts(service))
    ]
    assert len(owners) == 1, f"no single job prepares the volume {volume.source}: {owners}"
    job = logs_services()[owners[0]]
    target = _mount_of(owners[0], volume.source).target
    assert job["user"] == "0:0"
    assert job["command"] == ["chown", f"{user[1]}:{user[2]}", str(target)]
    assert job["restart"] == "no"
    for reader in ("logs-ingester", "alloy"):
        condition = logs_services()[reader]["depends_on"][owners[0]]["condition"]
        assert condition == "service_completed_successfully", reader


def test_alloy_labels_serial_and_level_from_the_fields_the_service_writes() -> None:
    config = ALLOY_CONFIG.read_text()
    line = format_line(LogEntry("SN-0001", 7, 1_700_000_000_123_456, "warning", "disk full"))
    fields = logfmt_fields(line)
    assert fields["message"] == "disk full"
    (logfmt,) = alloy_blocks(config, "stage.logfmt")
    extracted = {
        name: source or name
        for name, source in alloy_attributes(logfmt).items()
        if name != "source"
    }
    assert extracted["serial"] == "logger"
    for name, source in extracted.items():
        assert source in fields, f"Alloy extracts {name} from {source}=, which the lines lack"
    assert fields[extracted["serial"]] == "SN-0001" and fields[extracted["level"]] == "warning"
    (labels,) = alloy_blocks(config, "stage.labels")
    assert set(alloy_attributes(labels)) == {"serial", "level"}
    # The line's own time, so a line written twice (crash before commit) is one line in Loki.
    (timestamp,) = alloy_blocks(config, "stage.timestamp")
    settings = alloy_attributes(timestamp)
    assert settings == {"source": "time", "format": "RFC3339Nano"}
    assert datetime.fromisoformat(fields[extracted["time"]]).timestamp() == 1_700_000_000.123456


def test_alloy_pushes_to_the_loki_service() -> None:
    (endpoint,) = alloy_blocks(ALLOY_CONFIG.read_text(), "endpoint")
    url = urlsplit(alloy_attributes(endpoint)["url"])
    port = yaml.safe_load(LOKI_CONFIG.read_text())["server"]["http_listen_port"]
    assert (url.hostname, url.port, url.path) == ("loki", port, "/loki/api/v1/push")
    assert logs_services()["alloy"]["depends_on"]["loki"]["condition"] == "service_healthy"


def test_loki_keeps_its_data_on_a_named_volume() -> None:
    config = yaml.safe_load(LOKI_CONFIG.read_text())
    loki = logs_services()["loki"]
    (data,) = [mount for mount in mounts(loki) if not mount.is_bind]
    assert PurePosixPath(config["common"]["path_prefix"]) == data.target
    storage = config["common"]["storage"]["filesystem"]
    for directory in (*storage.values(), config["compactor"]["working_directory"]):
        assert _is_under(PurePosixPath(directory), data.target), directory
    config_files = [str(mount.target) for mount in mounts(loki) if mount.is_bind]
    assert loki["command"] == [f"-config.file={config_files[0]}"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_mount_point_has_to_be_created_inside_a_read_only_bind_mount(variant: str) -> None:
    # Docker cannot create it there (moby/moby#39587): the container would not start.
    for name, service in services(VARIANTS[variant]()).items():
        for outer in mounts(service):
            if not (outer.is_bind and outer.read_only):
                continue
            for inner in mounts(service):
                if inner.target != outer.target and _is_under(inner.target, outer.target):
                    host = REPO / outer.source / inner.target.relative_to(outer.target)
                    assert host.exists(), f"{name}: {inner.target} inside read-only {outer.target}"


def _provisioned_datasources(variant: str) -> tuple[dict[str, Path], list[str]]:
    """What Grafana's provisioning directory shows (container path -> host file), and the
    datasource uids in it."""
    grafana = services(VARIANTS[variant]())["grafana"]
    root = PurePosixPath(
        grafana.get("environment", {}).get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    )
    visible = {
        str(path.relative_to(root)): host
        for path, host in container_files(grafana).items()
        if root in path.parents
    }
    uids = [
        datasource["uid"]
        for relative, host in sorted(visible.items())
        if relative.startswith("datasources/") and host.suffix in (".yaml", ".yml")
        for datasource in yaml.safe_load(host.read_text())["datasources"]
    ]
    return visible, uids


def test_grafana_provisions_loki_beside_the_base_datasources_with_unique_uids() -> None:
    base_files, base_uids = _provisioned_datasources("compose.yaml")
    layered_files, layered_uids = _provisioned_datasources("compose.yaml+compose.logs.yaml")
    assert sorted(base_uids) == ["prometheus", "timescaledb"]
    assert len(layered_uids) == len(set(layered_uids)), f"duplicate uids: {layered_uids}"
    assert set(layered_uids) == {*base_uids, "loki"}
    # Nothing of the base provisioning (dashboards provider, datasources) goes missing.
    assert base_files.items() <= layered_files.items(), "compose.logs.yaml hides base files"
    (loki_file,) = [host for host in layered_files.values() if "loki" in host.name]
    (loki,) = yaml.safe_load(loki_file.read_text())["datasources"]
    url = urlsplit(loki["url"])
    port = yaml.safe_load(LOKI_CONFIG.read_text())["server"]["http_listen_port"]
    assert (loki["type"], url.hostname, url.port) == ("loki", "loki", port)
    assert logs_services()["grafana"]["depends_on"]["loki"]["condition"] == "service_healthy"
