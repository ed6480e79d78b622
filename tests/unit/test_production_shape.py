"""docker-compose.yml, the Dockerfile and deploy/kubernetes/ describe the same system as `./beacon up`, with real
servers."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.settings import CollectorSettings
from dashboard.settings import DashboardSettings
from destinations.settings import SegmentWebhookSettings
from stack.provision import ProvisionSettings
from stream_processors.settings import StreamWorkerSettings, WarehouseWriterSettings
from tests.support.kustomize import pod_spec_of, render

ROOT = Path(__file__).resolve().parents[2]
BEACON_SERVICES = ("provision", "collector", "stream-worker", "warehouse-writer", "segment-webhooks", "dashboard")
KUBERNETES_PRODUCTION = ROOT / "deploy" / "kubernetes" / "overlays" / "production"
# Set in Kubernetes only: a StatefulSet's pod name is the worker's stable group membership id there; in compose the
# default (container hostname and port) is already unique per container, also with `--scale stream-worker=N`.
KUBERNETES_ONLY = {"stream-worker": {"BEACON_STREAM_INSTANCE_ID"}}
# Differ by design: the servers' addresses (operators' services in Kubernetes) and the brokers' number.
CLUSTER_VARIABLES = {"BEACON_KAFKA_BOOTSTRAP", "BEACON_CLICKHOUSE_URL", "BEACON_KAFKA_REPLICATION_FACTOR"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


@pytest.fixture(scope="module")
def kubernetes() -> dict[str, dict[str, Any]]:
    """The container of each Beacon process in the production overlay, by compose service name."""
    return {
        resource["metadata"]["name"].removeprefix("beacon-"): pod_spec["containers"][0]
        for resource in render(KUBERNETES_PRODUCTION)
        for pod_spec in (pod_spec_of(resource),)
        if pod_spec is not None
    }


def test_official_kafka_in_kraft_mode_and_clickhouse_server(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name != "provision":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_beacon_services_run_real_modules_and_wait_for_provisioning(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in BEACON_SERVICES:
        command = services[name]["command"]
        assert command[:2] == ["python", "-m"], name
        assert importlib.util.find_spec(command[2]) is not None, f"{name}: no module {command[2]}"
    assert services["provision"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["provision"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    for name in ("collector", "stream-worker", "warehouse-writer", "segment-webhooks", "dashboard"):
        assert services[name]["depends_on"]["provision"]["condition"] == "service_completed_successfully"


def test_only_settings_differ_from_the_embedded_stack(compose: dict[str, Any]) -> None:
    known = {
        f"BEACON_{field.upper()}"
        for settings in (
            CollectorSettings,
            StreamWorkerSettings,
            WarehouseWriterSettings,
            ProvisionSettings,
            SegmentWebhookSettings,
            DashboardSettings,
        )
        for field in settings.model_fields
    }
    for name in BEACON_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["BEACON_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert environment["BEACON_CLICKHOUSE_URL"].endswith("@clickhouse:8123")
        unknown = {variable for variable in environment if variable.startswith("BEACON_")} - known
        assert not unknown, f"{name} sets variables no settings class reads: {unknown}"


def test_no_secret_is_written_into_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    literal_secret = re.compile(r"^\s*\w*(PASSWORD|SECRET|KEY)\w*:\s*(?!\$\{)\S", re.MULTILINE)
    assert literal_secret.search(text) is None, "secrets come from the environment"


def test_the_image_contains_every_python_package_of_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in dockerfile, f"the image lacks {package}/"


def test_kubernetes_runs_the_same_processes_as_compose(compose: dict[str, Any], kubernetes: dict[str, Any]) -> None:
    assert set(kubernetes) == set(BEACON_SERVICES)
    for name in BEACON_SERVICES:
        assert kubernetes[name]["command"] == compose["services"][name]["command"], name


def test_kubernetes_sets_the_same_variables_as_compose(compose: dict[str, Any], kubernetes: dict[str, Any]) -> None:
    for name in BEACON_SERVICES:
        in_compose = {k: v for k, v in compose["services"][name]["environment"].items() if k.startswith("BEACON_")}
        in_kubernetes = {v["name"]: v for v in kubernetes[name]["env"] if v["name"].startswith("BEACON_")}
        assert set(in_kubernetes) - KUBERNETES_ONLY.get(name, set()) == set(in_compose), name
        for variable, value in in_compose.items():
            if variable not in CLUSTER_VARIABLES and not str(value).startswith("${"):  # ${…}: secrets there
                assert in_kubernetes[variable].get("value") == value, f"{name}: {variable}"


def test_kubernetes_probes_what_compose_checks(compose: dict[str, Any], kubernetes: dict[str, Any]) -> None:
    for name in BEACON_SERVICES:
        if name == "provision":
            continue
        checked = re.search(r"http://localhost:(\d+)(/\w+)", " ".join(compose["services"][name]["healthcheck"]["test"]))
        assert checked is not None, name
        container = kubernetes[name]
        probe = container["readinessProbe"]["httpGet"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert (ports.get(probe["port"], probe["port"]), probe["path"]) == (int(checked[1]), checked[2]), name
