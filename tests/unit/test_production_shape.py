"""docker-compose.yml and the Dockerfile describe the same system as `./beacon up`, with real servers."""

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

ROOT = Path(__file__).resolve().parents[2]
BEACON_SERVICES = ("provision", "collector", "stream-worker", "warehouse-writer", "segment-webhooks", "dashboard")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


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
