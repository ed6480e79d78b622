"""The test suite's switch between real servers, testcontainers and the embedded services."""

from __future__ import annotations

import pytest

from tests.support.infrastructure import Backend, choose_backend, docker_engine_reachable


def test_without_docker_the_embedded_services_are_used() -> None:
    assert choose_backend({}, docker_engine_reachable=False) is Backend.EMBEDDED


def test_a_reachable_docker_engine_means_testcontainers() -> None:
    assert choose_backend({}, docker_engine_reachable=True) is Backend.CONTAINERS


def test_named_servers_win_over_docker() -> None:
    environ = {"BEACON_TEST_KAFKA_BOOTSTRAP": "k:9092", "BEACON_TEST_CLICKHOUSE_URL": "http://c:8123"}
    assert choose_backend(environ, docker_engine_reachable=True) is Backend.EXTERNAL


def test_one_named_server_is_not_enough() -> None:
    assert choose_backend({"BEACON_TEST_KAFKA_BOOTSTRAP": "k:9092"}, docker_engine_reachable=False) is Backend.EMBEDDED


def test_the_backend_can_be_forced() -> None:
    assert choose_backend({"BEACON_TEST_BACKEND": "embedded"}, docker_engine_reachable=True) is Backend.EMBEDDED
    with pytest.raises(ValueError, match="podman"):
        choose_backend({"BEACON_TEST_BACKEND": "podman"}, docker_engine_reachable=True)


def test_a_missing_docker_socket_is_not_an_engine(tmp_path: object) -> None:
    assert not docker_engine_reachable({"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
