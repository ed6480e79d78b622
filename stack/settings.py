"""Settings of a local Beacon stack (``./beacon up``): where its data lives and which ports it uses.

Setting ``BEACON_KAFKA_BOOTSTRAP`` or ``BEACON_CLICKHOUSE_URL`` points the stack at real servers instead of
starting the embedded broker or warehouse; nothing else changes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from runtime.settings import BeaconSettings


class StackSettings(BeaconSettings):
    home: Path = Path(".beacon")
    host: str = "127.0.0.1"
    kafka_port: int = Field(default=19092, ge=1, le=65535)
    warehouse_port: int = Field(default=8123, ge=1, le=65535)
    collector_port: int = Field(default=8080, ge=1, le=65535)
    stream_web_port: int = Field(default=6066, ge=1, le=65535)
    writer_port: int = Field(default=6067, ge=1, le=65535)
    webhook_port: int = Field(default=6068, ge=1, le=65535)  # the segment webhook sender's health and metrics
    dashboard_port: int = Field(default=6069, ge=1, le=65535)  # the dashboard (/dashboard), its health and metrics
    kafka_bootstrap: str | None = None
    clickhouse_url: str | None = None
    startup_timeout_seconds: float = Field(default=90, gt=0)
    definitions_dir: Path = Path("config")  # funnel definitions (runtime/definitions.py)

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def embedded_warehouse(self) -> bool:
        return self.clickhouse_url is None

    @property
    def kafka_address(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def clickhouse_address(self) -> str:
        return self.clickhouse_url or f"http://{self.host}:{self.warehouse_port}"

    @property
    def collector_url(self) -> str:
        return f"http://{self.host}:{self.collector_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}/dashboard"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"
