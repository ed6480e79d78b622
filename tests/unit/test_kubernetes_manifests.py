"""deploy/kubernetes/ renders (base and every overlay) into resources a cluster would accept, offline: built-in
kinds against Kubernetes' own JSON schemas (kubernetes-validate), the operators' custom resources against the
structure below, and every name one resource gives another (services, secrets, topics) agrees."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from schemas.topics import ALL_TOPICS, EVENTS, RAW_HITS
from tests.support.kustomize import Resource, pod_spec_of, render

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = [KUBERNETES / "base", *sorted((KUBERNETES / "overlays").iterdir())]
OLDEST_KUBERNETES = "1.30"  # the oldest release docs/deploy.md supports
OPERATOR_GROUPS = ("kafka.strimzi.io/", "clickhouse.altinity.com/")
SECRET_LIKE = re.compile(r"PASSWORD|SECRET|KEY|TOKEN")

# What Strimzi and the Altinity operator need of the resources they read (their CRDs say more; this is what a typo
# or a wrong nesting here would break).
_NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
_CLUSTER_LABEL = {
    "type": "object",
    "required": ["labels"],
    "properties": {"labels": {"required": ["strimzi.io/cluster"]}},
}
CUSTOM_RESOURCE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Kafka": {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": {
                "required": ["name", "annotations"],
                "properties": {
                    "annotations": {
                        "required": ["strimzi.io/node-pools", "strimzi.io/kraft"],
                        "properties": {
                            "strimzi.io/node-pools": {"const": "enabled"},
                            "strimzi.io/kraft": {"const": "enabled"},
                        },
                    }
                },
            },
            "spec": {
                "type": "object",
                "required": ["kafka", "entityOperator"],
                "additionalProperties": False,
                "properties": {
                    "kafka": {
                        "type": "object",
                        "required": ["version", "listeners", "config"],
                        "not": {"anyOf": [{"required": ["replicas"]}, {"required": ["storage"]}]},  # node pools'
                        "properties": {
                            "listeners": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["name", "port", "type", "tls"],
                                    "properties": {"type": {"enum": ["internal", "cluster-ip"]}},
                                },
                            },
                            "config": {"type": "object"},
                        },
                    },
                    "entityOperator": {"type": "object", "required": ["topicOperator"]},
                },
            },
        },
    },
    "KafkaNodePool": {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": _CLUSTER_LABEL,
            "spec": {
                "type": "object",
                "required": ["replicas", "roles", "storage"],
                "properties": {
                    "replicas": {"type": "integer", "minimum": 1},
                    "roles": {"type": "array", "items": {"enum": ["controller", "broker"]}, "minItems": 1},
                    "storage": {"type": "object", "required": ["type"]},
                },
            },
        },
    },
    "KafkaTopic": {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": _CLUSTER_LABEL,
            "spec": {
                "type": "object",
                "required": ["topicName", "partitions", "replicas", "config"],
                "additionalProperties": False,
                "properties": {
                    "topicName": {"type": "string"},
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1},
                    "config": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
    "ClickHouseInstallation": {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["configuration", "templates"],
                "properties": {
                    "configuration": {
                        "type": "object",
                        "required": ["users", "clusters"],
                        "properties": {
                            "clusters": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["name", "layout"],
                                    "properties": {
                                        "layout": {"required": ["shardsCount", "replicasCount"]},
                                    },
                                },
                            },
                        },
                    },
                    "templates": {
                        "type": "object",
                        "properties": {
                            "podTemplates": {"type": "array", "items": _NAMED},
                            "volumeClaimTemplates": {"type": "array", "items": _NAMED},
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=lambda path: path.relative_to(KUBERNETES).as_posix())
def resources(request: pytest.FixtureRequest) -> list[Resource]:
    return render(request.param)


def one(resources: list[Resource], kind: str, name: str | None = None) -> Resource:
    found = [r for r in resources if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def containers(resources: list[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
    return [(r, c) for r in resources for c in (pod_spec_of(r) or {}).get("containers", [])]


def environment(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in container.get("env", [])}


def test_every_built_in_resource_is_valid_kubernetes(resources: list[Resource]) -> None:
    for resource in resources:
        if not resource["apiVersion"].startswith(OPERATOR_GROUPS):
            kubernetes_validate.validate(resource, OLDEST_KUBERNETES, strict=True)


def test_operator_resources_have_the_structure_their_operators_read(resources: list[Resource]) -> None:
    custom = [r for r in resources if r["apiVersion"].startswith(OPERATOR_GROUPS)]
    assert {r["kind"] for r in custom} == set(CUSTOM_RESOURCE_SCHEMAS)
    for resource in custom:
        assert resource["apiVersion"] in ("kafka.strimzi.io/v1beta2", "clickhouse.altinity.com/v1"), resource["kind"]
        jsonschema.validate(resource, CUSTOM_RESOURCE_SCHEMAS[resource["kind"]])


def test_kafka_topics_are_the_topics_schemas_declares(resources: list[Resource]) -> None:
    declared = {spec.name: (spec.partitions, spec.topic_configs()) for spec in ALL_TOPICS}
    topics = [r for r in resources if r["kind"] == "KafkaTopic"]
    rendered = {t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["config"]) for t in topics}
    assert rendered == declared


def test_kafka_is_the_cluster_every_topic_and_pool_names(resources: list[Resource]) -> None:
    kafka = one(resources, "Kafka")
    pool = one(resources, "KafkaNodePool")
    brokers = pool["spec"]["replicas"] if "broker" in pool["spec"]["roles"] else 0
    min_in_sync = int(kafka["spec"]["kafka"]["config"]["min.insync.replicas"])
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    for resource in [pool, *(r for r in resources if r["kind"] == "KafkaTopic")]:
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    replicas = {topic["spec"]["replicas"] for topic in resources if topic["kind"] == "KafkaTopic"}
    # acks=all succeeds with a broker down only if more replicas than min.insync.replicas exist
    assert len(replicas) == 1
    assert min_in_sync < min(replicas) <= brokers
    # What creates topics (provisioning, the worker for a segment's own topic) makes them like the topic operator:
    # whichever comes first, the topic operator then finds a topic with the replicas it wants.
    creators = {
        workload["metadata"]["name"]: int(environment(container)["BEACON_KAFKA_REPLICATION_FACTOR"]["value"])
        for workload, container in containers(resources)
        if "BEACON_KAFKA_REPLICATION_FACTOR" in environment(container)
    }
    assert creators == {"beacon-provision": min(replicas), "beacon-stream-worker": min(replicas)}


def test_processes_reach_kafka_and_clickhouse_by_the_services_the_operators_make(resources: list[Resource]) -> None:
    kafka = one(resources, "Kafka")
    plain = next(listener for listener in kafka["spec"]["kafka"]["listeners"] if not listener["tls"])
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    installation = one(resources, "ClickHouseInstallation")
    clickhouse = f"clickhouse-{installation['metadata']['name']}:8123"
    user, password_reference = next(
        (key.split("/")[0], value)
        for key, value in installation["spec"]["configuration"]["users"].items()
        if key.endswith("/k8s_secret_password")
    )
    secret_name, secret_key = password_reference.split("/")
    for workload, container in containers(resources):
        variables = environment(container)
        names = list(variables)
        assert variables["BEACON_KAFKA_BOOTSTRAP"]["value"] == bootstrap, workload["metadata"]["name"]
        assert variables["BEACON_CLICKHOUSE_URL"]["value"] == f"http://{user}:$(CLICKHOUSE_PASSWORD)@{clickhouse}"
        # $(VARIABLE) is expanded only from variables defined earlier in the list
        assert names.index("CLICKHOUSE_PASSWORD") < names.index("BEACON_CLICKHOUSE_URL")
        reference = variables["CLICKHOUSE_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (reference["name"], reference["key"]) == (secret_name, secret_key)


def test_secrets_are_only_references(resources: list[Resource]) -> None:
    assert not [r for r in resources if r["kind"] == "Secret"], "no secret is committed: docs/deploy.md"
    for workload, container in containers(resources):
        for name, variable in environment(container).items():
            if SECRET_LIKE.search(name) and name != "BEACON_CLICKHOUSE_URL":
                assert "value" not in variable, f"{workload['metadata']['name']}: {name} is written in the manifest"
                assert variable["valueFrom"]["secretKeyRef"]["name"] == "beacon-secrets"


def test_every_container_has_resources_and_runs_as_the_images_user(resources: list[Resource]) -> None:
    for workload, container in containers(resources):
        name = workload["metadata"]["name"]
        assert set(container["resources"]) == {"requests", "limits"}, name
        assert pod(workload)["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_collectors_are_stateless_scaled_by_cpu_and_probed(resources: list[Resource]) -> None:
    collector = one(resources, "Deployment", "beacon-collector")
    assert collector["spec"]["replicas"] >= 2
    container = one_container(collector)
    port = named_port(container, "http")
    assert port == 8080  # BEACON_COLLECTOR_PORT's default
    assert probe(container, "readinessProbe") == ("/readyz", port)
    assert probe(container, "livenessProbe") == ("/healthz", port)
    autoscaler = one(resources, "HorizontalPodAutoscaler", "beacon-collector")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "beacon-collector",
    }
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]] == ["cpu"]
    service = one(resources, "Service", "beacon-collector")
    assert service["spec"]["selector"].items() <= collector["spec"]["template"]["metadata"]["labels"].items()
    assert disruption_budget_selects(resources, collector)


def test_stream_workers_keep_state_on_their_own_volumes_under_stable_ids(resources: list[Resource]) -> None:
    workers = one(resources, "StatefulSet", "beacon-stream-worker")
    assert 1 <= workers["spec"]["replicas"] <= min(RAW_HITS.partitions, EVENTS.partitions)  # more would idle
    container = one_container(workers)
    variables = environment(container)
    assert variables["BEACON_STREAM_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    claims = {claim["metadata"]["name"] for claim in workers["spec"]["volumeClaimTemplates"]}
    data_dir = Path(variables["BEACON_STREAM_DATA_DIR"]["value"])
    assert any(
        mount["name"] in claims and data_dir.is_relative_to(mount["mountPath"]) for mount in container["volumeMounts"]
    ), "BEACON_STREAM_DATA_DIR is not on the pod's claim"
    port = named_port(container, "web")
    assert port == 6066
    assert probe(container, "readinessProbe") == probe(container, "livenessProbe") == ("/health", port)
    assert one(resources, "Service", workers["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    assert disruption_budget_selects(resources, workers)


def test_definitions_are_mounted_where_beacon_definitions_dir_points(resources: list[Resource]) -> None:
    readers = [(w, c) for w, c in containers(resources) if "BEACON_DEFINITIONS_DIR" in environment(c)]
    assert {w["metadata"]["name"] for w, _ in readers} == {
        "beacon-stream-worker",
        "beacon-segment-webhooks",
        "beacon-dashboard",
    }
    for workload, container in readers:
        folder = environment(container)["BEACON_DEFINITIONS_DIR"]["value"]
        volumes = {volume["name"]: volume for volume in pod(workload)["volumes"]}
        mounted = {
            mount["mountPath"]: volumes[mount["name"]]["configMap"]["name"]
            for mount in container["volumeMounts"]
            if "configMap" in volumes.get(mount["name"], {})  # (else a claim template's)
        }
        assert mounted == {
            f"{folder}/{subfolder}": f"beacon-{subfolder}"
            for subfolder in ("funnels", "segments", "journeys", "profiles")
        }


def test_provisioning_is_a_job_running_stack_provision(resources: list[Resource]) -> None:
    job = one(resources, "Job", "beacon-provision")
    assert one_container(job)["command"] == ["python", "-m", "stack.provision"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_network_policy_denies_by_default_and_opens_only_beacons_paths(resources: list[Resource]) -> None:
    policies = {r["metadata"]["name"]: r["spec"] for r in resources if r["kind"] == "NetworkPolicy"}
    default = [spec for spec in policies.values() if spec["podSelector"] == {} and "ingress" not in spec]
    assert default
    assert default[0]["policyTypes"] == ["Ingress"]
    labels = {r["metadata"]["name"]: r["spec"]["template"]["metadata"]["labels"] for r in resources if pod_spec_of(r)}
    assert all(pod["app.kubernetes.io/part-of"] == "beacon" for pod in labels.values())

    def opened_to(pod_labels: dict[str, str]) -> list[dict[str, Any]]:
        return [
            rule
            for spec in policies.values()
            if spec["podSelector"] and spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
            for rule in spec.get("ingress", [])
        ]

    for name, port in (("beacon-collector", 8080), ("beacon-dashboard", 6069)):
        assert opened_to(labels[name]) == [{"ports": [{"port": port}]}], name  # from anywhere, that port only
    for name in ("beacon-stream-worker", "beacon-warehouse-writer", "beacon-segment-webhooks", "beacon-provision"):
        assert opened_to(labels[name]) == [], name
    beacon_pods = [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "beacon"}}}]
    kafka_pod = {"strimzi.io/cluster": one(resources, "Kafka")["metadata"]["name"], "strimzi.io/kind": "Kafka"}
    assert {"from": beacon_pods, "ports": [{"port": 9092}]} in opened_to(kafka_pod)
    clickhouse_pod = {"clickhouse.altinity.com/chi": one(resources, "ClickHouseInstallation")["metadata"]["name"]}
    assert {"from": beacon_pods, "ports": [{"port": 8123}]} in opened_to(clickhouse_pod)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda path: path.relative_to(KUBERNETES).as_posix())
def test_the_renderer_agrees_with_kustomize(kustomization: Path) -> None:
    printed = subprocess.run(
        ["kubectl", "kustomize", str(kustomization)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in yaml.safe_load_all(printed) if r}
    assert {(r["kind"], r["metadata"]["name"]): r for r in render(kustomization)} == by_name


def pod(workload: Resource) -> dict[str, Any]:
    pod_spec = pod_spec_of(workload)
    assert pod_spec is not None, f"{workload['kind']} runs no pods"
    return pod_spec


def disruption_budget_selects(resources: list[Resource], workload: Resource) -> bool:
    budget = one(resources, "PodDisruptionBudget", workload["metadata"]["name"])
    return bool(
        budget["spec"]["selector"]["matchLabels"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    )


def one_container(workload: Resource) -> dict[str, Any]:
    (container,) = pod(workload)["containers"]
    assert isinstance(container, dict)
    return container


def named_port(container: dict[str, Any], name: str) -> int:
    port: int = next(port["containerPort"] for port in container["ports"] if port["name"] == name)
    return port


def probe(container: dict[str, Any], kind: str) -> tuple[str, int]:
    get = container[kind]["httpGet"]
    port = get["port"] if isinstance(get["port"], int) else named_port(container, get["port"])
    return get["path"], port
