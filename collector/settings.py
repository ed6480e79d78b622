"""Settings of the collector process."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import KafkaSettings


class CollectorSettings(KafkaSettings):
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(default=8080, ge=1, le=65535)
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips); "*" trusts everyone.
    collector_trusted_proxies: str = "127.0.0.1"
    collector_max_query_bytes: int = Field(default=16 * 1024, ge=256)
    # How long a request waits for the broker before its records go to the spool instead.
    collector_send_timeout_seconds: float = Field(default=3.0, gt=0)
    collector_spool_dir: Path = Path(".beacon/collector-spool")
    # The last site registry read from the broker, so a collector can start while the broker is down.
    collector_sites_snapshot: Path = Path(".beacon/collector-sites.json")
    collector_spool_max_bytes: int = Field(default=1 << 30, ge=1 << 20)
    # /readyz says not-ready above this, so a load balancer sends new traffic to another collector.
    collector_spool_ready_bytes: int = Field(default=64 << 20, ge=0)
    # Secrets that sign email open/click links, comma separated, newest first: the first signs, all verify.
    email_signing_keys: SecretStr = SecretStr("")
    # Events per second (sustained, and as a burst) per collector: from one browser IP (pixel, browser API),
    # and for one site (every API).
    collector_rate_per_ip: float = Field(default=100, gt=0)
    collector_burst_per_ip: float = Field(default=1_000, gt=0)
    collector_rate_per_site: float = Field(default=20_000, gt=0)
    collector_burst_per_site: float = Field(default=100_000, gt=0)
    # The website tracker's directory: the collector serves its build (dist/beacon.js) and its demo shop page.
    collector_tracker_dir: Path = Path("tracker_js")
    # The site the demo shop at /demo sends its events to; empty (production's default): no /demo. The local stack
    # (./beacon up) sets it to its demo site.
    collector_demo_site: str = ""

    def email_secrets(self) -> list[str]:
        return [key.strip() for key in self.email_signing_keys.get_secret_value().split(",") if key.strip()]
