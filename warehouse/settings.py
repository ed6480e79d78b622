"""Settings of the embedded warehouse process."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import BeaconSettings


class WarehouseSettings(BeaconSettings):
    warehouse_host: str = "127.0.0.1"
    warehouse_port: int = Field(default=8123, ge=1, le=65535)
    warehouse_data_dir: Path = Path(".beacon/warehouse")
    # When set, clients must authenticate (user ``default``) as on a real server; unset means open on loopback.
    warehouse_password: SecretStr | None = None
    warehouse_max_request_bytes: int = Field(default=1 << 30, ge=1024)
