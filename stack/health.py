"""Readiness probes for the stack's parts: an HTTP endpoint answering 2xx, or a TCP port accepting."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class HttpProbe:
    url: str

    def ready(self) -> bool:
        try:
            return httpx.get(self.url, timeout=2).is_success
        except httpx.HTTPError:
            return False


@dataclass(frozen=True)
class TcpProbe:
    address: str  # host:port

    def ready(self) -> bool:
        parts = urlsplit(f"//{self.address}")
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
                return True
        except OSError:
            return False


Probe = HttpProbe | TcpProbe
