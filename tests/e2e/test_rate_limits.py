"""Rate limits on a collector of their own (tight limits), against the shared broker and warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from stack.ephemeral import free_port
from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def strict_collector(beacon_stack: StackSettings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BEACON_")} | {
        "BEACON_KAFKA_BOOTSTRAP": beacon_stack.kafka_address,
        "BEACON_COLLECTOR_PORT": str(port),
        "BEACON_COLLECTOR_SPOOL_DIR": str(tmp_path / "spool"),
        "BEACON_COLLECTOR_RATE_PER_IP": "0.01",  # refills too slowly to matter during the test
        "BEACON_COLLECTOR_BURST_PER_IP": "10",
        "BEACON_COLLECTOR_RATE_PER_SITE": "0.01",
        "BEACON_COLLECTOR_BURST_PER_SITE": "10",
    }
    process = subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, what="the strict collector")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_json_apis_answer_429_with_retry_after_and_the_pixel_its_gif(
    strict_collector: str, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    marker = uuid.uuid4().hex
    batch = {"batch": [{"type": "track", "event": "Limited", "userId": marker} for _ in range(8)]}
    auth = (registered_site.write_key, "")
    assert httpx.post(f"{strict_collector}/v1/batch", json=batch, auth=auth).status_code == 200
    limited = httpx.post(f"{strict_collector}/v1/batch", json=batch, auth=auth)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    for _ in range(5):  # the site has 2 events of its burst left
        gif = httpx.get(
            f"{strict_collector}/p.gif",
            params={"site": registered_site.site_id, "url": f"https://shop.example/{marker}"},
        )
        assert (gif.status_code, gif.headers["content-type"]) == (200, "image/gif")
    sql = "SELECT count() FROM beacon.dead_letters WHERE reason = 'rate_limited' AND payload LIKE {m:String}"
    wait_until(
        lambda: clickhouse.command(sql, parameters={"m": f"%{marker}%"}) >= 1 + 3,
        what="the refused batch and the limited pixel hits in dead letters",
    )
