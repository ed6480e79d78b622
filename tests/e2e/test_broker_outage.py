"""Broker outage: while Kafka is down the collector spools every accepted event to disk (even a collector
started during the outage), and when Kafka is back every one of them reaches ClickHouse exactly once — on a
stack of its own, since its broker is killed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from runtime.clickhouse import connect_clickhouse
from stack.ephemeral import settings_on_free_ports
from stack.site_admin import create_site
from stack.supervisor import LocalStack
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 5000
BATCH = 100
PIXEL_HITS = 300


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[LocalStack]:
    settings = settings_on_free_ports(tmp_path)
    stack = LocalStack(settings, workdir=ROOT)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_no_event_is_lost_or_doubled_across_a_broker_outage(own_stack: LocalStack) -> None:
    settings = own_stack.settings
    site_id = f"outage-{uuid.uuid4().hex[:6]}"
    _, write_key = asyncio.run(
        create_site(settings.kafka_address, site_id=site_id, name="Outage", domains=["outage.example"])
    )
    collector = httpx.Client(base_url=settings.collector_url, auth=(write_key, ""), timeout=30)
    probe = {"type": "identify", "userId": "probe"}
    wait_until(lambda: collector.post("/v1/identify", json=probe).status_code == 200, what="the site to be known")

    own_stack.stop_part("kafka")
    # Pixel hits do not wait for the broker: the producer holds them until its delivery timeout, then the
    # spool takes them.
    for n in range(PIXEL_HITS):
        query = {"site": site_id, "e": "outage_pixel", "eid": str(uuid.uuid4()), "p.n": str(n)}
        assert collector.get("/p.gif", params=query).status_code == 200
    wait_until(lambda: collector.get("/readyz").json()["spool_bytes"] > 0, what="undelivered pixel hits spooled")
    # A collector (re)started during the outage serves the sites it last knew, from its snapshot.
    own_stack.stop_part("collector")
    own_stack.start_part("collector")
    for start in range(0, EVENTS, BATCH):
        batch = {
            "batch": [
                {
                    "type": "track",
                    "event": "Outage Event",
                    "userId": f"user-{n % 37}",
                    "messageId": str(uuid.uuid4()),
                    "properties": {"n": n},
                }
                for n in range(start, start + BATCH)
            ],
            "sentAt": datetime.now(UTC).isoformat(),
        }
        response = collector.post("/v1/batch", json=batch)
        assert response.status_code == 200, response.text
    readiness = collector.get("/readyz").json()
    assert readiness["spool_bytes"] > 0, "the accepted events wait in the spool"
    spooled = list((settings.home / "collector-spool").glob("*.spool"))
    assert spooled, "on disk, not only in memory"

    time.sleep(12)  # longer than the consumers' session timeout: their groups must rebalance on return
    own_stack.start_part("kafka")
    clickhouse = connect_clickhouse(settings.clickhouse_address)
    query = (
        "SELECT count(), uniqExact(event_id), uniqExact(properties['n']) FROM beacon.events FINAL"
        " WHERE site_id = {s:String} AND event_name = 'Outage Event'"
    )

    def all_arrived() -> bool:
        return clickhouse.query(query, parameters={"s": site_id}).result_rows[0][0] >= EVENTS

    wait_until(all_arrived, what=f"{EVENTS} events after the outage", timeout_seconds=180)
    assert clickhouse.query(query, parameters={"s": site_id}).result_rows == [(EVENTS, EVENTS, EVENTS)]
    pixels = query.replace("'Outage Event'", "'outage_pixel'")
    wait_until(lambda: clickhouse.query(pixels, parameters={"s": site_id}).result_rows[0][0] >= PIXEL_HITS,
               what="the pixel hits after the outage")  # fmt: skip
    assert clickhouse.query(pixels, parameters={"s": site_id}).result_rows == [(PIXEL_HITS, PIXEL_HITS, PIXEL_HITS)]
    wait_until(lambda: collector.get("/readyz").json()["spool_bytes"] == 0, what="the spool to drain")
