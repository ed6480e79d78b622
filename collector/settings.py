"""Settings of the collector process."""

from __future__ import annotations

from pydantic import Field

from runtime.settings import KafkaSettings


class CollectorSettings(KafkaSettings):
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(default=8080, ge=1, le=65535)
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips); "*" trusts everyone.
    collector_trusted_proxies: str = "127.0.0.1"
    collector_max_query_bytes: int = Field(default=16 * 1024, ge=256)
    collector_send_timeout_seconds: float = Field(default=10.0, gt=0)
