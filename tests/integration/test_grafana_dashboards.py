"""The Grafana provisioning and dashboards under dependencies/grafana, checked without Grafana.

- Structure: every panel (rows' nested panels too) names a provisioned datasource by uid, uids
  are unique, the dashboard provider reads the directory the dashboards are mounted at.
- SQL: every query (panel targets and template variables) runs as iot_readonly against a
  migrated test database holding a few sensors' data, after substituting the Grafana macros and
  variables the way Grafana's PostgreSQL datasource does. Run for a short range and a long one:
  the signal panel reads raw measurements for the first and the one-minute aggregate for the
  second, and the test checks which query returned the rows.
- PromQL: every metric name an expression uses is exported by a live process. The platform's
  services run as real processes for one test and their /metrics are scraped; RabbitMQ's names
  come from the rabbitmq_prometheus plugin of the test session's second RabbitMQ node
  (tests/integration/device_broker.py), which listens on a free port.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from iot_routing import SERVICE_QUEUES
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.db_fixtures import TestDatabase
from tests.integration.device_broker import DeviceBroker
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import Broker, Services, eventually, http_get, http_port, metric
from tests.support import REPO, wait_until

pytestmark = pytest.mark.integration

GRAFANA = REPO / "dependencies" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml"
# Where compose and k8s mount dependencies/grafana/dashboards in the Grafana container.
MOUNTED_AT = "/var/lib/grafana/dashboards"
POSTGRES_TYPE = "grafana-postgresql-datasource"
PROMETHEUS_TYPE = "prometheus"

SENSORS = {"dash-a": 1.5, "dash-b": 2.5}  # serial -> the constant value all its samples have
HEARTBEAT_SENSOR = "dash-a"  # the one sensor that sent a heartbeat (just now): online
# Each sensor's samples, one a second: a recent run (a stored batch) and an old one.
RECENT_START, RECENT_SAMPLES = timedelta(minutes=4), 120
OLD_START, OLD_SAMPLES = timedelta(hours=5), 60
LOG_LINES = [("info", "System powering on"), ("warning", "Battery low"), ("error", "Sensor fault")]


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels (collapsed rows keep theirs inside) included."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def datasources() -> dict[str, str]:
    """Provisioned datasource uid -> type."""
    provisioned = yaml.safe_load(DATASOURCES.read_text())
    return {source["uid"]: source["type"] for source in provisioned["datasources"]}


@dataclass(frozen=True)
class Query:
    """One query of a dashboard: where it is, which datasource it goes to, and its text."""

    dashboard: str
    panel: str
    ref: str
    datasource_type: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref}"


def queries() -> list[Query]:
    """Every panel target and template variable query of every dashboard."""
    types = datasources()
    found: list[Query] = []
    for path in DASHBOARDS:
        dashboard = load(path)
        for panel in all_panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel["datasource"]
                kind = types[source["uid"]]
                text = target["rawSql"] if kind == POSTGRES_TYPE else target["expr"]
                found.append(Query(path.stem, panel["title"], target["refId"], kind, text))
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                kind = types[variable["datasource"]["uid"]]
                text = variable["query"]
                found.append(Query(path.stem, f"${variable['name']}", "var", kind, text))
    return found


# -- structure --------------------------------------------------------------------------------


def test_datasources_are_the_read_only_database_and_prometheus() -> None:
    provisioned = {s["uid"]: s for s in yaml.safe_load(DATASOURCES.read_text())["datasources"]}

    database = provisioned["timescaledb"]
    assert database["type"] == POSTGRES_TYPE
    assert database["user"] == "iot_readonly"
    assert database["jsonData"]["database"] == "iot"
    assert database["jsonData"]["timescaledb"] is True
    assert database["secureJsonData"]["password"] == "$IOT_DB_READONLY_PASSWORD"
    assert provisioned["prometheus"]["type"] == PROMETHEUS_TYPE
    assert provisioned["prometheus"]["url"] == "http://prometheus:9090"


def test_provider_loads_the_mounted_directory() -> None:
    (provider,) = yaml.safe_load(PROVIDERS.read_text())["providers"]

    assert provider["type"] == "file"
    assert provider["folder"] == "IoT"
    assert provider["options"]["path"] == MOUNTED_AT


def test_every_panel_uses_a_provisioned_datasource_and_uids_are_unique() -> None:
    types = datasources()
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert {path.stem for path in DASHBOARDS} == {"sensors", "pipeline", "database"}
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        dashboard = load(path)
        panels = list(all_panels(dashboard["panels"]))
        ids = [panel["id"] for panel in panels]
        assert len(set(ids)) == len(ids), f"{path.name}: duplicate panel ids"
        for panel in panels:
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                assert types.get(source["uid"]) == source["type"], (path.name, panel["title"])
        for variable in dashboard["templating"]["list"]:
            source = variable["datasource"]
            assert types.get(source["uid"]) == source["type"], (path.name, variable["name"])


# -- SQL --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_ms: int  # what Grafana derives from the range and the panel's width


def grafana_time(moment: datetime) -> str:
    """A timestamp as Grafana's PostgreSQL macros print it."""
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def interval_text(ms: int) -> str:
    """$__interval: Grafana's rounded interval, e.g. 500ms, 2s, 2m."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def substitute(text: str, window: TimeRange, variables: dict[str, list[str]]) -> str:
    """The query Grafana's PostgreSQL datasource would send (the macros this repo uses).

    Multi-value variables become comma-separated quoted literals, as Grafana formats them for
    SQL; whatever macro or variable is left over fails the test, so a new one gets noticed.
    """
    start, end = grafana_time(window.start), grafana_time(window.end)
    text = re.sub(r"\$__timeFilter\(([^()]*)\)", rf"\1 BETWEEN {start} AND {end}", text)
    text = re.sub(
        r"\$__unixEpochFilter\(([^()]*)\)",
        rf"\1 >= {int(window.start.timestamp())} AND \1 <= {int(window.end.timestamp())}",
        text,
    )
    text = text.replace("$__timeFrom()", start).replace("$__timeTo()", end)
    text = text.replace("$__interval_ms", str(window.interval_ms))
    text = text.replace("$__interval", interval_text(window.interval_ms))
    for name, values in variables.items():
        literal = ",".join("'" + value.replace("'", "''") + "'" for value in values)
        text = re.sub(rf"\$\{{{name}(?::sqlstring)?\}}|\${name}\b", literal, text)
    leftover = re.search(r"\$\w+|\$\{[^}]*\}", text)
    assert leftover is None, f"no substitution for {leftover.group()} in:\n{text}"
    return text


@pytest.fixture
def dashboard_data(database: TestDatabase) -> datetime:
    """Two sensors with samples 2-4 minutes and 5 hours old, a stored batch each, log lines.

    dash-a sent a heartbeat just now; dash-b never did, and its last batch is older than the
    30 s after which a sensor without a heartbeat interval counts as offline. Returns now.
    """
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        now: datetime = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        for serial, value in SENSORS.items():
            heartbeat = now if serial == HEARTBEAT_SENSOR else None
            (sensor_id,) = conn.execute(
                "INSERT INTO sensors (serial_number, sample_frequency_hz, last_heartbeat_at,"
                " heartbeat_interval_s) VALUES (%s, 1, %s, 5) RETURNING id",
                (serial, heartbeat),
            ).fetchone()  # type: ignore[misc]
            for first, seconds in (
                (now - RECENT_START, RECENT_SAMPLES),
                (now - OLD_START, OLD_SAMPLES),
            ):
                conn.execute(
                    "INSERT INTO measurements (time, sensor_id, value)"
                    " SELECT %s + n * interval '1 second', %s, %s FROM generate_series(0, %s) AS n",
                    (first, sensor_id, value, seconds - 1),
                )
            conn.execute(
                "INSERT INTO measurement_batches (sensor_id, sequence, first_sample_time,"
                " sample_count, sample_rate_hz, received_at) VALUES (%s, 1, %s, %s, 1, %s)",
                (sensor_id, now - RECENT_START, RECENT_SAMPLES, now - timedelta(minutes=2)),
            )
            for sequence, (level, message) in enumerate(LOG_LINES):
                conn.execute(
                    "INSERT INTO sensor_logs (time, sensor_id, sequence, level, message)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (now - timedelta(minutes=3 - sequence), sensor_id, sequence, level, message),
                )
    return now


def run_all(database: TestDatabase, window: TimeRange) -> dict[str, list[tuple[Any, ...]]]:
    """Every SQL query of every dashboard, as iot_readonly: query name -> rows."""
    variables = {"serial": sorted(SENSORS)}
    results: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(database.readonly_url, autocommit=True) as conn:
        # Grafana's sessions run in UTC; the dashboards must not depend on it, but be alike.
        conn.execute("SET TimeZone = 'UTC'")
        for query in queries():
            if query.datasource_type != POSTGRES_TYPE:
                continue
            text = substitute(query.text, window, variables)
            try:
                results[query.name] = conn.execute(text).fetchall()
            except psycopg.Error as error:
                raise AssertionError(f"{query.name} failed: {error}\n{text}") from error
    return results


def signal(rows: list[tuple[Any, ...]]) -> dict[str, set[float]]:
    """Signal rows (time, metric, value) -> values seen per sensor."""
    values: dict[str, set[float]] = {}
    for _, serial, value in rows:
        values.setdefault(serial, set()).add(value)
    return values


def test_every_sql_query_runs_as_the_read_only_role_short_range(
    database: TestDatabase, dashboard_data: datetime
) -> None:
    now = dashboard_data
    results = run_all(database, TimeRange(now - timedelta(minutes=15), now, interval_ms=1000))

    raw, aggregate = results["sensors/Signal/A"], results["sensors/Signal/B"]
    assert aggregate == []
    assert signal(raw) == {serial: {value} for serial, value in SENSORS.items()}
    # One-second buckets of the recent samples of each sensor, none of the old ones.
    assert len(raw) == len(SENSORS) * RECENT_SAMPLES
    assert min(row[0] for row in raw) >= now - timedelta(minutes=15)
    assert sorted(results["sensors/$serial/var"]) == [(serial,) for serial in sorted(SENSORS)]
    latest = {row[0]: row[2] for row in results["sensors/Latest value/A"]}
    assert latest == SENSORS
    states = {row[0]: row[1] for row in results["sensors/Presence/A"]}
    assert states == {
        serial: "online" if serial == HEARTBEAT_SENSOR else "offline" for serial in SENSORS
    }
    assert results["sensors/Sensors by presence/A"] == [(1, 0, 1)]
    logs = results["sensors/Recent logs/A"]
    assert sorted((row[1], row[2], row[3]) for row in logs) == sorted(
        (serial, level, message) for serial in SENSORS for level, message in LOG_LINES
    )
    insert_rate = results["database/Insert rate/A"]
    # Per-minute buckets: one each.
    assert sum(row[1] for row in insert_rate) == len(SENSORS) * RECENT_SAMPLES


def test_every_sql_query_runs_as_the_read_only_role_long_range(
    database: TestDatabase, dashboard_data: datetime
) -> None:
    now = dashboard_data
    results = run_all(database, TimeRange(now - timedelta(hours=24), now, interval_ms=120_000))

    raw, aggregate = results["sensors/Signal/A"], results["sensors/Signal/B"]
    assert raw == []
    assert signal(aggregate) == {serial: {value} for serial, value in SENSORS.items()}
    times = sorted(row[0] for row in aggregate)
    assert times[0] <= now - OLD_START  # the old samples are in the long range
    assert times[-1] >= now - timedelta(minutes=6)
    # Storage: both time-series tables appear, chunked (or partitioned) and sized.
    chunks = {row[0]: row[1] for row in results["database/Chunks per table/A"]}
    assert chunks.keys() >= {"measurements", "sensor_logs"}
    assert all(count >= 1 for count in chunks.values())
    ranged = [row for row in results["database/Chunks in the time range/A"] if row[2] is not None]
    assert {row[0] for row in ranged} >= {"measurements", "sensor_logs"}
    assert all(row[2] < row[3] for row in ranged)  # parsed bounds: start before end
    sizes = {row[0]: row for row in results["database/Table sizes/A"]}
    assert sizes.keys() >= {"measurements", "sensor_logs", "sensors", "measurement_batches"}
    assert sizes["measurements"][3] > 0  # total bytes of the samples just inserted
    (database_size,) = results["database/Database size/A"]
    assert database_size[0] > 0


# -- PromQL -----------------------------------------------------------------------------------

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan", "le",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects.

    Strips what holds non-metric identifiers: strings, label matchers {...}, range and
    subquery brackets [...], and the label lists of by/without/on/ignoring/group_*; then every
    identifier not followed by "(" (a function call) and not a keyword is a metric.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group() in PROMQL_KEYWORDS:
            continue
        # A number's exponent (1e3) or duration suffix is not a name.
        if match.start() > 0 and (
            text[match.start() - 1].isdigit() or text[match.start() - 1] == "."
        ):
            continue
        names.add(match.group())
    return names


def test_promql_names_are_extracted() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, queue) (rate(iot_batch_size_bucket{queue=~"a.*"}'
        "[$__rate_interval]))) / on (queue) group_left (service) iot_x_total offset 5m > 1e3"
    )

    assert promql_metric_names(expr) == {"iot_batch_size_bucket", "iot_x_total"}


def exported_names(exposition: str) -> set[str]:
    """Every name a PromQL selector may use against a scrape of this exposition.

    A family declared without samples yet (a labelled counter before its first increment)
    counts: its series appear as soon as something happens, and Prometheus keeps the name.
    """
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        elif family.type == "summary":
            names.update(f"{family.name}{suffix}" for suffix in ("_sum", "_count"))
    return names


LIVEKIT = {
    "LIVEKIT_API_KEY": "test-livekit-key",
    "LIVEKIT_API_SECRET": "test-livekit-secret-" + "0123456789abcdef" * 2,
    "IOT_PING_SECONDS": "3600",
}


def rabbitmq_exposition(port: int) -> str:
    """The plugin's aggregated, per-object and detailed (per-queue) endpoints, concatenated.

    The detailed families are the ones dependencies/prometheus/prometheus.yml asks for.
    """
    detailed = "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count"
    texts = []
    for path in ("/metrics", "/metrics/per-object", detailed):
        reply = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
        reply.raise_for_status()
        texts.append(reply.text)
    return "\n".join(texts)


async def test_every_promql_metric_is_exported(
    services: Services,
    gateway: Gateway,
    device_broker: DeviceBroker,
    device_vhost: str,
) -> None:
    for script in ("sensor-registry", "measurements-ingester", "logs-ingester"):
        services.start(script)
    services.start("sensor-simulator", IOT_SENSOR_SERIAL="dash-sim", IOT_SAMPLE_FREQUENCY_HZ="50")
    services.start("join-dispatcher", **LIVEKIT)
    # The platform's queues on the node RabbitMQ's metrics are read from, so per-queue
    # families have series.
    async with Broker(device_broker.guest_url(device_vhost)) as broker:
        assert await broker.depth(SERVICE_QUEUES[0]) == 0
    with gateway.client("viewer") as client:
        assert client.get("/sensors").status_code == 200
    ports = {process.script: http_port(process) for process in services.started}

    async def samples_written() -> bool:
        return metric(ports["measurements-ingester"], "iot_samples_written_total") > 0

    await eventually(samples_written, 60, "the simulator's samples to be written")
    exported: set[str] = set()
    for script, port in ports.items():
        status, text = http_get(port, "/metrics")
        assert status == 200, script
        exported |= exported_names(text)
    rabbitmq = wait_until(
        # The device node starts with the rabbitmq_prometheus plugin.
        lambda: exported_names(rabbitmq_exposition(device_broker.prometheus_port)),
        30,
        "RabbitMQ's metrics",
    )

    used = {
        name: query.name
        for query in queries()
        if query.datasource_type == PROMETHEUS_TYPE
        for name in promql_metric_names(query.text)
    }
    assert len(used) >= 15
    missing = {
        name: where
        for name, where in used.items()
        if name not in (rabbitmq if name.startswith("rabbitmq_") else exported)
    }
    assert missing == {}
