"""Which Kafka and ClickHouse the test suite talks to, and how it gets them.

- ``external``: ``BEACON_TEST_KAFKA_BOOTSTRAP`` and ``BEACON_TEST_CLICKHOUSE_URL`` name running servers;
- ``containers``: a Docker engine is reachable, so testcontainers runs the official images;
- ``embedded``: otherwise, the same embedded broker and warehouse that ``./beacon up`` starts.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stack.ephemeral import ephemeral_services
from stack.provision import provision_topics, provision_warehouse

KAFKA_IMAGE = "apache/kafka:3.9.1"
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:25.8"


class Backend(StrEnum):
    EXTERNAL = "external"
    CONTAINERS = "containers"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class Infrastructure:
    backend: Backend
    kafka_bootstrap: str
    clickhouse_url: str


def choose_backend(environ: Mapping[str, str], docker_engine_reachable: bool) -> Backend:
    """The rule, kept pure so it is unit-tested: explicit servers, else Docker, else embedded."""
    forced = environ.get("BEACON_TEST_BACKEND")
    if forced:
        return Backend(forced)
    if environ.get("BEACON_TEST_KAFKA_BOOTSTRAP") and environ.get("BEACON_TEST_CLICKHOUSE_URL"):
        return Backend.EXTERNAL
    return Backend.CONTAINERS if docker_engine_reachable else Backend.EMBEDDED


def docker_engine_reachable(environ: Mapping[str, str] = os.environ) -> bool:
    """True when a Docker engine answers (not merely when the docker client is installed)."""
    host = environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        if not Path(path).exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(path)
                sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b"OK" in sock.recv(1024)
        except OSError:
            return False
    return bool(host)


@contextmanager
def provide_infrastructure(backend: Backend, home: Path) -> Iterator[Infrastructure]:
    if backend is Backend.EXTERNAL:
        infrastructure = Infrastructure(
            backend, os.environ["BEACON_TEST_KAFKA_BOOTSTRAP"], os.environ["BEACON_TEST_CLICKHOUSE_URL"]
        )
        _provision(infrastructure)
        yield infrastructure
    elif backend is Backend.CONTAINERS:
        with _containers() as infrastructure:
            yield infrastructure
    else:
        with _embedded(home) as infrastructure:
            yield infrastructure


def _provision(infrastructure: Infrastructure) -> None:
    """Topics and migrations, as ``./beacon up`` makes them (the embedded path gets them from LocalStack)."""
    provision_topics(infrastructure.kafka_bootstrap)
    provision_warehouse(infrastructure.clickhouse_url)


@contextmanager
def _embedded(home: Path) -> Iterator[Infrastructure]:
    with ephemeral_services(home) as settings:
        yield Infrastructure(Backend.EMBEDDED, settings.kafka_address, settings.clickhouse_address)


@contextmanager
def _containers() -> Iterator[Infrastructure]:  # pragma: no cover - needs a Docker engine
    from testcontainers.community.clickhouse import ClickHouseContainer
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, ClickHouseContainer(CLICKHOUSE_IMAGE) as clickhouse:
        host, port = clickhouse.get_container_host_ip(), clickhouse.get_exposed_port(8123)
        url = f"http://{clickhouse.username}:{clickhouse.password}@{host}:{port}"
        infrastructure = Infrastructure(Backend.CONTAINERS, kafka.get_bootstrap_server(), url)
        _provision(infrastructure)
        yield infrastructure
