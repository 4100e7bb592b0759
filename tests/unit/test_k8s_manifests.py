"""The Kubernetes manifests under k8s/: both overlays build, validate, and match the services.

`kubectl kustomize` (the real binary) builds each overlay; every built-in resource is validated
against the Kubernetes OpenAPI schemas of a pinned version in strict mode (unknown fields are
errors); the custom resources of the RabbitMQ operators and the Prometheus Operator have no
schema there, so they are counted (nothing else slips past unvalidated) and their spec fields
checked against the operators' API types. The workloads are then checked against the code: one
per long-running service in services/, its command a console script, its probes and metrics
port the service's own. No cluster is needed.
"""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # no stubs, no py.typed
import pytest
import yaml
from iot_devstack import k8s_files

from tests.repository import (
    REPO,
    console_scripts,
    default_http_port,
    read_env_file,
    service_packages,
)

K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
# The Kubernetes version the manifests must be valid for (kubectl on the CI machine is 1.32).
KUBERNETES_VERSION = "1.32.0"
# Custom resources have no schema in kubernetes-validate: exactly these are skipped.
CRD_GROUPS = {"rabbitmq.com", "monitoring.coreos.com"}
RABBITMQ_KINDS = {"RabbitmqCluster", "User", "Permission", "TopicPermission"}
TOPOLOGY_KINDS = {"Exchange", "Queue", "Binding", "Policy"}
CRD_KINDS = {
    "dev": RABBITMQ_KINDS | TOPOLOGY_KINDS,
    # components/prometheus-operator
    "prod": RABBITMQ_KINDS | TOPOLOGY_KINDS | {"PodMonitor"},
}
# The spec fields each custom resource may use, from the operators' API types
# (messaging-topology-operator api/v1beta1, prometheus-operator PodMonitorSpec): a misspelt
# field would otherwise be pruned by the API server without a word.
CRD_SPEC_FIELDS = {
    "Exchange": {"name", "vhost", "type", "durable", "autoDelete", "arguments"},
    "Queue": {"name", "vhost", "type", "durable", "autoDelete", "arguments"},
    "Binding": {"vhost", "source", "destination", "destinationType", "routingKey", "arguments"},
    "Policy": {"name", "vhost", "pattern", "applyTo", "priority", "definition"},
    "User": {"tags", "importCredentialsSecret"},
    "Permission": {"vhost", "user", "userReference", "permissions"},
    "TopicPermission": {"vhost", "user", "userReference", "permissions"},
    "PodMonitor": {"jobLabel", "selector", "namespaceSelector", "podMetricsEndpoints"},
}
TOPOLOGY_REQUIRED = {"rabbitmqClusterReference"}
POD_METRICS_ENDPOINT_FIELDS = {"port", "path", "params", "honorLabels", "interval", "relabelings"}
STATEFULSETS = {"sensor-simulator"}
UID = 10001
# Labels the RabbitMQ Cluster Operator gives the pods of a RabbitmqCluster named <name>, and
# the name of the container port it gives rabbitmq_prometheus (15692).
RABBITMQ_POD_LABELS = {"app.kubernetes.io/component": "rabbitmq"}
RABBITMQ_PROMETHEUS_PORT = "prometheus"

Doc = dict[str, Any]


@functools.cache
def build(overlay: str) -> tuple[Doc, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; it builds the kustomize overlays")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[Doc, ...], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def find(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_templates(docs: tuple[Doc, ...]) -> list[tuple[str, Doc]]:
    """(kind/name, pod template) of every workload in the build."""
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"])
        for doc in docs
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}
    ]


def pod_label_sets(docs: tuple[Doc, ...]) -> list[dict[str, str]]:
    """The labels of every pod the build makes, including the RabbitMQ operator's pods."""
    labels = [dict(template["metadata"].get("labels", {})) for _, template in pod_templates(docs)]
    for cluster in of_kind(docs, "RabbitmqCluster"):
        name = cluster["metadata"]["name"]
        labels.append({"app.kubernetes.io/name": name, **RABBITMQ_POD_LABELS})
    return labels


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def all_containers(template: Doc) -> list[Doc]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def probe_port(probe: Doc, container: Doc) -> int:
    """The container port number a httpGet probe targets (named or numbered)."""
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        assert port in {p["containerPort"] for p in container.get("ports", [])}
        return port
    named: dict[str, int] = {
        p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p
    }
    assert port in named, f"probe names port {port!r}, the container declares {sorted(named)}"
    return named[port]


# --- building and validating -----------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_every_builtin_resource_validates(overlay: str) -> None:
    skipped: set[str] = set()
    errors = []
    for doc in build(overlay):
        if doc["apiVersion"].split("/")[0] in CRD_GROUPS:
            skipped.add(doc["kind"])
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(part) for part in error.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} {where}: {error.message}")
    assert errors == []
    assert skipped == CRD_KINDS[overlay]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_use_only_the_operators_fields(overlay: str) -> None:
    unknown = []
    for doc in build(overlay):
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind not in CRD_SPEC_FIELDS:
            continue
        allowed = CRD_SPEC_FIELDS[kind]
        if doc["apiVersion"] == "rabbitmq.com/v1beta1":
            assert spec.get("rabbitmqClusterReference") == {"name": "rabbitmq"}, doc
            allowed = allowed | TOPOLOGY_REQUIRED
        unknown += [f"{kind}/{doc['metadata']['name']}: {key}" for key in set(spec) - allowed]
        for endpoint in spec.get("podMetricsEndpoints", []):
            unknown += [
                f"{kind} endpoint: {key}" for key in set(endpoint) - POD_METRICS_ENDPOINT_FIELDS
            ]
    assert unknown == []


def test_strict_validation_rejects_an_unknown_field() -> None:
    # Guards the test above: a misspelt field must be an error, not silently ignored.
    service = dict(find(build("prod"), "Service", "api-gateway"))
    service["spec"] = {**service["spec"], "selectr": {"app": "x"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lives_in_the_overlay_namespace(overlay: str) -> None:
    namespace = {"dev": "iot-dev", "prod": "iot"}[overlay]
    docs = build(overlay)
    assert [doc["metadata"]["name"] for doc in of_kind(docs, "Namespace")] == [namespace]
    elsewhere = [
        f"{doc['kind']}/{doc['metadata']['name']}"
        for doc in docs
        if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") != namespace
    ]
    assert elsewhere == []


# --- the services ----------------------------------------------------------------------------


def test_the_service_list_is_derived_from_the_repository() -> None:
    # Guards the parametrisation below against finding nothing (a moved services/ folder).
    assert {"api-gateway", "measurements-ingester", "sensor-simulator"} <= set(service_packages())


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", sorted(service_packages()))
def test_every_service_has_its_workload_probes_and_metrics_port(overlay: str, service: str) -> None:
    docs = build(overlay)
    package = service_packages()[service]
    kind = "StatefulSet" if service in STATEFULSETS else "Deployment"
    workload = find(docs, kind, service)
    template = workload["spec"]["template"]
    containers = {c["name"]: c for c in template["spec"]["containers"]}
    container = containers[service]

    # The one image, the console script chosen by the command.
    assert container["command"] == [service]
    assert console_scripts()[service] == f"{package}.__main__:main"
    assert re.search(r"(^|/)iot-telemetry(:|$)", container["image"]), container["image"]

    port = default_http_port(service)
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert ports["http"] == port
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env.get("IOT_HTTP_PORT", str(port)) == str(port)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert probe_port(container["readinessProbe"], container) == port
    assert probe_port(container["livenessProbe"], container) == port

    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"

    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]

    # A Service in front of it, on the same port.
    selector = find(docs, "Service", service)["spec"]
    assert selects({"matchLabels": selector["selector"]}, template["metadata"]["labels"])
    assert {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"} in selector[
        "ports"
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_platform_container_is_locked_down(overlay: str) -> None:
    problems = []
    for where, template in pod_templates(build(overlay)):
        pod = template["spec"].get("securityContext", {})
        for container in all_containers(template):
            merged = {**pod, **container.get("securityContext", {})}
            name = f"{where}/{container['name']}"
            expected_user = (
                UID if "iot-telemetry" in container["image"] else merged.get("runAsUser")
            )
            checks = {
                "runAsNonRoot": merged.get("runAsNonRoot") is True,
                "runAsUser": merged.get("runAsUser") == expected_user is not None,
                "readOnlyRootFilesystem": merged.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation": merged.get("allowPrivilegeEscalation") is False,
                "capabilities": merged.get("capabilities", {}).get("drop") == ["ALL"],
                "seccompProfile": merged.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            }
            problems += [f"{name}: {check}" for check, ok in checks.items() if not ok]
    assert problems == []


def test_gateway_exposes_api_grpc_and_broker_auth() -> None:
    ports = {
        p["name"]: p["port"] for p in find(build("prod"), "Service", "api-gateway")["spec"]["ports"]
    }
    assert ports == {"http": 8080, "grpc": 50051, "broker-auth": 8081}


def test_simulator_serials_come_from_stable_host_names() -> None:
    docs = build("dev")
    simulator = find(docs, "StatefulSet", "sensor-simulator")
    assert simulator["spec"]["replicas"] == 3
    headless = find(docs, "Service", simulator["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    (container,) = simulator["spec"]["template"]["spec"]["containers"]
    assert "IOT_SENSOR_SERIAL" not in {e["name"] for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_simulator_leaves_the_consumers_queues_to_the_topology_operator(overlay: str) -> None:
    # Its RabbitMQ user may not declare them (rabbitmq/topology.yaml creates them).
    (container,) = find(build(overlay), "StatefulSet", "sensor-simulator")["spec"]["template"][
        "spec"
    ]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["IOT_DECLARE_TOPOLOGY"] == "false"


def hpa_targets(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    """Deployment name -> the HorizontalPodAutoscaler that scales it."""
    return {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in of_kind(docs, "HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler(overlay: str) -> None:
    # A replicas field would be re-applied on every `kubectl apply`, undoing the HPA's count.
    docs = build(overlay)
    targets = hpa_targets(docs)
    assert "measurements-ingester" in targets
    for name in targets:
        assert "replicas" not in find(docs, "Deployment", name)["spec"], name


def test_measurements_ingester_autoscales() -> None:
    hpa = find(build("prod"), "HorizontalPodAutoscaler", "measurements-ingester")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "measurements-ingester",
    }
    assert hpa["spec"]["minReplicas"] >= 2


def test_prod_runs_redundant_replicas_under_effective_budgets() -> None:
    docs = build("prod")
    autoscaled = hpa_targets(docs)
    for name in ("api-gateway", "measurements-ingester", "logs-ingester"):
        spec = find(docs, "Deployment", name)["spec"]
        replicas = (
            autoscaled[name]["spec"]["minReplicas"] if name in autoscaled else spec["replicas"]
        )
        budget = find(docs, "PodDisruptionBudget", name)["spec"]
        assert replicas >= 2
        # Effective: a drain may never take every replica at once.
        assert budget.get("maxUnavailable", replicas) < replicas
    assert find(docs, "RabbitmqCluster", "rabbitmq")["spec"]["replicas"] == 3


# --- secrets and configuration ---------------------------------------------------------------


def test_prod_holds_no_secret_values() -> None:
    secrets = [
        doc["metadata"]["name"]
        for doc in of_kind(build("prod"), "Secret")
        if doc.get("data") or doc.get("stringData")
    ]
    assert secrets == []


def referenced_secret_keys(docs: tuple[Doc, ...]) -> set[tuple[str, str]]:
    """(secret, key) of every non-optional secretKeyRef, plus the Topology Operator's imports."""
    refs = set()
    for _, template in pod_templates(docs):
        for container in all_containers(template):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional", False):
                    refs.add((ref["name"], ref["key"]))
    for user in of_kind(docs, "User"):
        secret = user["spec"]["importCredentialsSecret"]["name"]
        refs |= {(secret, "username"), (secret, "password")}
    return refs


def test_dev_generates_every_secret_the_pods_need_with_local_dev_values() -> None:
    docs = build("dev")
    available = {
        (doc["metadata"]["name"], key) for doc in of_kind(docs, "Secret") for key in doc["data"]
    }
    needed = referenced_secret_keys(docs)
    assert needed - available == set()
    assert any(name.startswith("rabbitmq-user-") for name, _ in needed)
    # Clearly local values: every password-like value says so.
    unmarked = [
        f"{doc['metadata']['name']}.{key}"
        for doc in of_kind(docs, "Secret")
        for key, value in doc["data"].items()
        if key != "username" and b"local-dev-only" not in base64.b64decode(value)
    ]
    assert unmarked == []


def test_prod_references_the_same_secrets_as_dev() -> None:
    # The operator creates in prod what dev generates; the README lists them.
    needed = referenced_secret_keys(build("prod"))
    assert needed == referenced_secret_keys(build("dev"))
    readme = (K8S / "README.md").read_text()
    missing = sorted({name for name, _ in needed if f"`{name}`" not in readme})
    assert missing == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_configmap_exists(overlay: str) -> None:
    docs = build(overlay)
    present = {doc["metadata"]["name"] for doc in of_kind(docs, "ConfigMap")}
    referenced = set()
    for _, template in pod_templates(docs):
        for volume in template["spec"].get("volumes", []):
            if "configMap" in volume:
                referenced.add(volume["configMap"]["name"])
        for container in all_containers(template):
            referenced |= {
                source["configMapRef"]["name"]
                for source in container.get("envFrom", [])
                if "configMapRef" in source
            }
    assert referenced - present == set()


def conf_settings(text: str) -> dict[str, str]:
    settings = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def test_rabbitmq_has_the_compose_plugins_and_config() -> None:
    docs = build("prod")
    spec = find(docs, "RabbitmqCluster", "rabbitmq")["spec"]
    plugins_file = (REPO / "dependencies" / "rabbitmq" / "enabled_plugins").read_text()
    plugins = set(re.findall(r"rabbitmq_\w+", plugins_file))
    assert plugins and plugins <= set(spec["rabbitmq"]["additionalPlugins"])

    config = conf_settings(spec["rabbitmq"]["additionalConfig"])
    compose = conf_settings((REPO / "dependencies" / "rabbitmq" / "rabbitmq.conf").read_text())
    assert {key: config.get(key) for key in compose} == compose


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_seeds_its_default_user(overlay: str) -> None:
    # With definitions to load at boot, RabbitMQ does not create its default user, so the
    # Cluster Operator's rabbitmq-default-user would not exist and the Topology Operator could
    # not log in to create anything. The topology comes from Topology Operator resources.
    spec = find(build(overlay), "RabbitmqCluster", "rabbitmq")["spec"]
    config = conf_settings(spec["rabbitmq"].get("additionalConfig", ""))
    assert not {key for key in config if key.startswith("load_definitions")}
    assert "definitions" not in str(spec.get("override", {}))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_topology_operator_creates_the_generated_topology(overlay: str) -> None:
    namespace = {"dev": "iot-dev", "prod": "iot"}[overlay]
    generated = [
        doc
        for doc in yaml.safe_load_all((K8S / "base" / "rabbitmq" / "topology.yaml").read_text())
        if doc
    ]
    built = {
        (doc["kind"], doc["metadata"]["name"]): doc
        for doc in build(overlay)
        if doc["kind"] in TOPOLOGY_KINDS
    }
    assert {doc["kind"] for doc in generated} == TOPOLOGY_KINDS
    assert set(built) == {(doc["kind"], doc["metadata"]["name"]) for doc in generated}
    for doc in generated:
        resource = built[doc["kind"], doc["metadata"]["name"]]
        assert resource["spec"] == doc["spec"]
        assert resource["metadata"]["namespace"] == namespace


def test_prod_quorum_queues_regain_their_members() -> None:
    spec = find(build("prod"), "RabbitmqCluster", "rabbitmq")["spec"]
    config = conf_settings(spec["rabbitmq"]["additionalConfig"])
    assert config["quorum_queue.continuous_membership_reconciliation.enabled"] == "true"
    size = config["quorum_queue.continuous_membership_reconciliation.target_group_size"]
    assert int(size) == spec["replicas"] == 3


def test_timescaledb_mounts_the_compose_init_scripts_and_config() -> None:
    docs = build("prod")
    database = find(docs, "StatefulSet", "timescaledb")
    pod = database["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    initdb = find(
        docs, "ConfigMap", volumes[mounts["/docker-entrypoint-initdb.d"]]["configMap"]["name"]
    )
    source = REPO / "dependencies" / "timescaledb"
    scripts = {path.name: path.read_text() for path in (source / "initdb").iterdir()}
    assert scripts and initdb["data"] == scripts
    config = find(docs, "ConfigMap", volumes[mounts["/etc/postgresql"]]["configMap"]["name"])
    assert config["data"]["postgresql.conf"] == (source / "postgresql.conf").read_text()
    assert "config_file=/etc/postgresql/postgresql.conf" in container["args"]
    assert (
        database["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
        == mounts["/var/lib/postgresql/data"]
    )


def test_infrastructure_images_match_compose() -> None:
    # The same RabbitMQ and TimescaleDB versions as compose (tags pinned in .env).
    env = read_env_file(REPO / ".env")
    docs = build("prod")
    rabbitmq = find(docs, "RabbitmqCluster", "rabbitmq")["spec"]["image"]
    assert rabbitmq == f"rabbitmq:{env['RABBITMQ_IMAGE_TAG']}"
    (database,) = find(docs, "StatefulSet", "timescaledb")["spec"]["template"]["spec"]["containers"]
    assert database["image"] == f"timescale/timescaledb:{env['TIMESCALEDB_IMAGE_TAG']}"


def test_k8s_files_match_dependencies() -> None:
    # `make k8s-files` refreshes them; kustomize cannot read dependencies/ itself.
    assert k8s_files.drift() == []


def test_k8s_files_check_reports_drift(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "initdb").mkdir(parents=True)
    (source / "initdb" / "10-roles.sh").write_text("echo roles\n")
    (source / "postgresql.conf").write_text("port = 5432\n")
    target = tmp_path / "files"
    assert k8s_files.drift(source, target) != []
    k8s_files.write(source, target)
    assert k8s_files.drift(source, target) == []
    (source / "postgresql.conf").write_text("port = 5433\n")
    assert k8s_files.drift(source, target) == ["timescaledb/postgresql.conf"]
    (source / "initdb" / "10-roles.sh").unlink()
    k8s_files.write(source, target)
    assert not (target / "timescaledb" / "initdb" / "10-roles.sh").exists()
    assert k8s_files.drift(source, target) == []


# --- network policies ------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_network_policy_selects_pods_that_exist(overlay: str) -> None:
    docs = build(overlay)
    pods = pod_label_sets(docs)
    empty = []
    for policy in of_kind(docs, "NetworkPolicy"):
        name = policy["metadata"]["name"]
        spec = policy["spec"]
        selectors = [("podSelector", spec["podSelector"])]
        for rule in spec.get("ingress", []):
            selectors += [
                ("from", peer["podSelector"])
                for peer in rule.get("from", [])
                if "podSelector" in peer and "namespaceSelector" not in peer
            ]
        for rule in spec.get("egress", []):
            selectors += [
                ("to", peer["podSelector"])
                for peer in rule.get("to", [])
                if "podSelector" in peer and "namespaceSelector" not in peer
            ]
        for where, selector in selectors:
            if selector and not any(selects(selector, labels) for labels in pods):
                empty.append(f"{name} {where} {selector}")
    assert empty == []


def test_network_policies_deny_by_default_and_guard_broker_auth() -> None:
    docs = build("prod")
    deny = find(docs, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    gateway = find(docs, "NetworkPolicy", "api-gateway")["spec"]
    broker_auth = [
        rule for rule in gateway["ingress"] if {"protocol": "TCP", "port": 8081} in rule["ports"]
    ]
    assert broker_auth == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}}],
            "ports": [{"protocol": "TCP", "port": 8081}],
        }
    ]
    # Every service pod may reach the broker, and those with a database URL the database.
    for _, template in pod_templates(docs):
        labels = template["metadata"]["labels"]
        for container in template["spec"]["containers"]:
            env = {e["name"] for e in container.get("env", [])}
            if "IOT_AMQP_URL" in env:
                assert labels.get("iot-telemetry/rabbitmq-client") == "true", labels
            if env & {"IOT_DATABASE_URL", "IOT_MIGRATE_DATABASE_URL"}:
                assert labels.get("iot-telemetry/database-client") == "true", labels


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_devices_may_reach_rabbitmq_amqp_from_anywhere(overlay: str) -> None:
    # Devices outside the cluster log in over AMQP (the HTTP auth backend checks them).
    docs = build(overlay)
    rabbitmq_pod = {"app.kubernetes.io/name": "rabbitmq", **RABBITMQ_POD_LABELS}
    open_rules = [
        rule
        for policy in of_kind(docs, "NetworkPolicy")
        if selects(policy["spec"]["podSelector"], rabbitmq_pod)
        for rule in policy["spec"].get("ingress", [])
        if not rule.get("from")
    ]
    assert open_rules == [{"ports": [{"protocol": "TCP", "port": 5672}]}]
    service = find(docs, "RabbitmqCluster", "rabbitmq")["spec"].get("service", {})
    expected = {"dev": "ClusterIP", "prod": "LoadBalancer"}[overlay]
    assert service.get("type", "ClusterIP") == expected


# --- the migration Job -----------------------------------------------------------------------


def test_each_prod_release_migrates_in_a_job_of_its_own() -> None:
    # A Job's pod template is immutable: applying a new image to the old Job would fail.
    docs = build("prod")
    (job,) = of_kind(docs, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    tag = container["image"].rsplit(":", 1)[1]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", tag), tag
    assert job["metadata"]["name"] == f"iot-db-migrate-{tag.replace('.', '-')}"
    # Finished Jobs go soon, so an unchanged re-apply within that time is the only overlap.
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 900
    dev_job = find(build("dev"), "Job", "iot-db-migrate")
    assert dev_job["spec"]["ttlSecondsAfterFinished"] == job["spec"]["ttlSecondsAfterFinished"]


# --- Prometheus Operator ---------------------------------------------------------------------


def scrape_endpoints(docs: tuple[Doc, ...], labels: dict[str, str]) -> list[Doc]:
    """Every PodMonitor endpoint that applies to pods with these labels."""
    return [
        endpoint
        for monitor in of_kind(docs, "PodMonitor")
        if selects(monitor["spec"]["selector"], labels)
        for endpoint in monitor["spec"]["podMetricsEndpoints"]
    ]


def test_prod_pod_monitors_scrape_every_service_keeping_its_service_label() -> None:
    docs = build("prod")
    services = 0
    for where, template in pod_templates(docs):
        ports = {p.get("name") for c in template["spec"]["containers"] for p in c.get("ports", [])}
        endpoints = scrape_endpoints(docs, template["metadata"]["labels"])
        if "prometheus.io/scrape" not in template["metadata"].get("annotations", {}):
            assert endpoints == [], where
            continue
        services += 1
        assert endpoints == [{"port": "http", "path": "/metrics", "honorLabels": True}], where
        assert "http" in ports, where
    assert services == len(service_packages())
    assert of_kind(build("dev"), "PodMonitor") == []  # dev needs no Prometheus Operator


def test_prod_pod_monitors_scrape_rabbitmq_like_compose() -> None:
    docs = build("prod")
    rabbitmq_pod = {"app.kubernetes.io/name": "rabbitmq", **RABBITMQ_POD_LABELS}
    endpoints = scrape_endpoints(docs, rabbitmq_pod)
    assert {endpoint["port"] for endpoint in endpoints} == {RABBITMQ_PROMETHEUS_PORT}
    scraped = {(e["path"], tuple(e.get("params", {}).get("family", []))) for e in endpoints}
    # The same paths and families as compose's Prometheus (dependencies/prometheus).
    compose = yaml.safe_load((REPO / "dependencies" / "prometheus" / "prometheus.yml").read_text())
    rabbitmq_jobs = [
        job for job in compose["scrape_configs"] if job["job_name"].startswith("rabbitmq")
    ]
    expected = {
        (job.get("metrics_path", "/metrics"), tuple(job.get("params", {}).get("family", [])))
        for job in rabbitmq_jobs
    }
    assert ("/metrics/detailed", ("queue_coarse_metrics", "queue_consumer_count")) in expected
    assert scraped == expected
    # One target per PodMonitor and path: two endpoints in one PodMonitor would share every
    # target label, and their `up` series would collide.
    for monitor in of_kind(docs, "PodMonitor"):
        ports = [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]]
        assert len(ports) == len(set(ports)), monitor["metadata"]["name"]
