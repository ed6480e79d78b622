"""Settings of the stream worker and the warehouse writer."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import ClickHouseSettings, KafkaSettings


class StreamWorkerSettings(KafkaSettings):
    stream_app_id: str = "beacon-stream"
    stream_web_host: str = "127.0.0.1"
    stream_web_port: int = Field(default=6066, ge=1, le=65535)
    stream_data_dir: Path = Path(".beacon/stream")
    # Short timeouts make a worker joining or leaving rebalance in seconds, not the default minute.
    stream_session_timeout_seconds: float = Field(default=10.0, gt=0)
    # Store client IPs whole instead of anonymised (IPv4 /24, IPv6 /48). Off by default: turn it on only with
    # a legal basis to keep full addresses.
    stream_keep_full_ip: bool = False
    # A MaxMind GeoIP2/GeoLite2 City or Country database (.mmdb) for geolocation; without one, the country
    # comes from the data bundled with geoip2fast (GeoLite2 Country, no region or city).
    stream_geoip_database: Path | None = None
    # The secret the daily salts of cookieless visitor hashes are derived from (HMAC of the UTC date). Whoever
    # holds it can recompute any day's salt: keep it out of the data, and rotate it to cut old hashes loose.
    stream_visitor_salt_secret: SecretStr = SecretStr("")


class WarehouseWriterSettings(KafkaSettings, ClickHouseSettings):
    writer_group_id: str = "beacon-warehouse-writer"
    writer_host: str = "127.0.0.1"
    writer_port: int = Field(default=6067, ge=1, le=65535)
    writer_batch_rows: int = Field(default=5000, ge=1)
    writer_flush_interval_seconds: float = Field(default=1.0, gt=0)
    writer_max_retry_backoff_seconds: float = Field(default=30.0, gt=0)
