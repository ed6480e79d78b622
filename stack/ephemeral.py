"""Throwaway embedded services on free ports, for the test suite and the benchmarks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.settings import StackSettings
from stack.supervisor import LocalStack


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_on_free_ports(home: Path, **overrides: object) -> StackSettings:
    """A whole stack's settings under ``home`` with every port free, so it runs beside any other stack."""
    ports = {
        "kafka_port": free_port(),
        "warehouse_port": free_port(),
        "collector_port": free_port(),
        "stream_web_port": free_port(),
        "writer_port": free_port(),
        "webhook_port": free_port(),
        "dashboard_port": free_port(),
    }
    return StackSettings.model_validate({"home": home, "definitions_dir": home / "config", **ports, **overrides})


@contextmanager
def ephemeral_services(home: Path) -> Iterator[StackSettings]:
    """The embedded broker and warehouse, provisioned, under ``home``; stopped on exit."""
    settings = settings_on_free_ports(home)
    stack = LocalStack(settings)
    stack.start(include_applications=False)
    try:
        yield settings
    finally:
        stack.stop()
