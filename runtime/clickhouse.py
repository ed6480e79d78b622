"""The one way Beacon code reaches ClickHouse: clickhouse-connect over the HTTP interface at a URL.

The URL may point at a real server, a cluster, ClickHouse Cloud or the embedded warehouse; nothing here
knows or cares which.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client


def connect_clickhouse(url: str, *, connect_timeout: float = 10, send_receive_timeout: float = 300) -> Client:
    """Open a clickhouse-connect client for ``url`` (``http[s]://[user[:password]@]host:port``)."""
    parts = urlsplit(url)
    return clickhouse_connect.get_client(
        interface=parts.scheme or "http",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or "default",
        password=parts.password or "",
        # Fully qualified table names everywhere: no per-connection database, no server-side session state.
        autogenerate_session_id=False,
        connect_timeout=connect_timeout,
        send_receive_timeout=send_receive_timeout,
    )
