"""Shared fixtures: the real Kafka and ClickHouse for integration tests, the whole stack (and a site registered on
it) for end-to-end and fuzz tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from runtime.clickhouse import connect_clickhouse
from stack.ephemeral import settings_on_free_ports
from stack.settings import StackSettings
from stack.supervisor import LocalStack
from tests.support.infrastructure import (
    Infrastructure,
    choose_backend,
    docker_engine_reachable,
    provide_infrastructure,
)
from tests.support.sites import RegisteredSite, register_site

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    """A real Kafka-protocol broker and a real ClickHouse engine, provisioned with topics and migrations."""
    backend = choose_backend(os.environ, docker_engine_reachable())
    with provide_infrastructure(backend, tmp_path_factory.mktemp("infrastructure")) as provided:
        yield provided


@pytest.fixture(scope="session")
def clickhouse(infrastructure: Infrastructure) -> Client:
    return connect_clickhouse(infrastructure.clickhouse_url)


@pytest.fixture(scope="session")
def beacon_stack(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """Beacon's own processes (writer, stream worker, collector) started by the same code as `./beacon up`."""
    settings = settings_on_free_ports(
        tmp_path_factory.mktemp("stack"),
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        clickhouse_url=infrastructure.clickhouse_url,
    )
    stack = LocalStack(settings, workdir=ROOT)
    stack.start()
    try:
        yield settings
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def registered_site(beacon_stack: StackSettings) -> RegisteredSite:
    """A site (domain shop.example) that the running collector already knows, shared by the e2e and fuzz tests."""
    return register_site(beacon_stack)
