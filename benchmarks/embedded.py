"""Start the embedded broker and warehouse for a benchmark run, on free ports in a temporary home."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.settings import StackSettings
from stack.supervisor import LocalStack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_services() -> Iterator[StackSettings]:
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as home:
        settings = StackSettings(home=Path(home), kafka_port=_free_port(), warehouse_port=_free_port())
        stack = LocalStack(settings)
        stack.start(include_applications=False)
        try:
            yield settings
        finally:
            stack.stop()
