"""HTTP pixel -> collector -> Kafka -> faust normalize agent -> warehouse writer -> ClickHouse, all real.

Every assertion is a SQL query on the warehouse, so a faked or broken hop anywhere fails these tests.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from collector.app import TRANSPARENT_GIF
from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite


@pytest.fixture
def site_id(registered_site: RegisteredSite) -> str:
    return registered_site.site_id


@pytest.fixture
def marker() -> str:
    """A value unique to one test, to find its rows among those of the shared site."""
    return uuid.uuid4().hex


def pixel(stack: StackSettings, params: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    response = httpx.get(f"{stack.collector_url}/p.gif", params=params, headers=headers or {}, timeout=10)
    assert response.status_code == 200
    assert response.content == TRANSPARENT_GIF
    assert response.headers["content-type"] == "image/gif"
    assert "no-store" in response.headers["cache-control"]
    return response


def count(clickhouse: Client, sql: str, **parameters: str) -> int:
    return int(clickhouse.command(sql, parameters=parameters))


def test_a_page_view_is_queryable_in_clickhouse_within_seconds(
    beacon_stack: StackSettings, clickhouse: Client, site_id: str
) -> None:
    event_id = str(uuid.uuid4())
    client_time = datetime.now(UTC) - timedelta(seconds=30)
    sent = time.monotonic()
    pixel(
        beacon_stack,
        {
            "site": site_id,
            "eid": event_id,
            "url": "https://shop.example/products/42",
            "ref": "https://search.example/?q=shoes",
            "aid": "visitor-1",
            "p.category": "shoes",
            "ts": str(int(client_time.timestamp() * 1000)),
            "st": str(int((client_time + timedelta(seconds=30)).timestamp() * 1000)),
        },
        headers={
            "User-Agent": "Mozilla/5.0 (e2e)",
            "X-Forwarded-For": "203.0.113.9",
            "Accept-Language": "de-CH,de;q=0.9",
            "DNT": "1",
            "Sec-GPC": "1",
        },
    )
    wait_until(
        lambda: count(clickhouse, "SELECT count() FROM beacon.events WHERE event_id = {e:UUID}", e=event_id) == 1,
        what="the page view in beacon.events",
        timeout_seconds=30,
    )
    latency = time.monotonic() - sent
    row = clickhouse.query(
        "SELECT site_id, event_name, url, referrer, anonymous_id, properties, user_agent, ip, source,"
        " dateDiff('second', event_time, received_at), locale, do_not_track, global_privacy_control"
        " FROM beacon.events WHERE event_id = {e:UUID}",
        parameters={"e": event_id},
    ).result_rows[0]
    assert row[:7] == (
        site_id,
        "page_view",
        "https://shop.example/products/42",
        "https://search.example/?q=shoes",
        "visitor-1",
        {"category": "shoes"},
        "Mozilla/5.0 (e2e)",
    )
    assert row[7] == "203.0.113.0", "the client IP (from the trusted proxy header) is stored anonymised"
    assert row[8] == "pixel"
    assert row[9] == 30, "event time is corrected by the client's own measure of the event's age"
    assert row[10:] == ("de-ch", True, True), "language and privacy signals are kept"
    assert latency < 30


def test_a_malformed_hit_still_gets_the_gif_and_lands_in_dead_letters(
    beacon_stack: StackSettings, clickhouse: Client, site_id: str, marker: str
) -> None:
    pixel(beacon_stack, {"site": site_id, "url": "not a url", "p.marker": marker})
    pixel(beacon_stack, {"url": "https://shop.example/", "p.marker": marker})  # no site at all
    pixel(beacon_stack, {"site": "nobody-registered-this", "url": "https://shop.example/", "p.marker": marker})
    wait_until(
        lambda: (
            count(clickhouse, "SELECT count() FROM beacon.dead_letters WHERE payload LIKE {m:String}", m=f"%{marker}%")
            == 3
        ),
        what="three dead letters",
    )
    reasons = clickhouse.query(
        "SELECT stage, reason FROM beacon.dead_letters WHERE payload LIKE {m:String} ORDER BY reason",
        parameters={"m": f"%{marker}%"},
    ).result_rows
    assert reasons == [
        ("normalize", "invalid_url"),
        ("collector", "missing_site_id"),
        ("collector", "unknown_site"),
    ]
    assert count(clickhouse, "SELECT count() FROM beacon.events WHERE properties['marker'] = {m:String}", m=marker) == 0


def test_an_oversized_hit_is_kept_by_the_collector_as_a_dead_letter(
    beacon_stack: StackSettings, clickhouse: Client, site_id: str, marker: str
) -> None:
    pixel(beacon_stack, {"site": site_id, "url": "https://shop.example/", "p.m": marker, "p.blob": "x" * 20_000})
    wait_until(
        lambda: (
            count(
                clickhouse,
                "SELECT count() FROM beacon.dead_letters WHERE stage = 'collector' AND reason = 'payload_too_large'"
                " AND payload LIKE {m:String}",
                m=f"%{marker}%",
            )
            == 1
        ),
        what="the collector's dead letter",
    )


def test_a_retried_hit_with_the_same_event_id_counts_once(
    beacon_stack: StackSettings, clickhouse: Client, site_id: str
) -> None:
    event_id = str(uuid.uuid4())
    for _ in range(3):
        pixel(beacon_stack, {"site": site_id, "eid": event_id, "url": "https://shop.example/retry"})
    pixel(beacon_stack, {"site": site_id, "url": "https://shop.example/marker"})
    wait_until(
        lambda: (
            count(
                clickhouse, "SELECT count() FROM beacon.events WHERE url = {u:String}", u="https://shop.example/marker"
            )
            >= 1
            and count(clickhouse, "SELECT count() FROM beacon.events WHERE event_id = {e:UUID}", e=event_id) >= 1
        ),
        what="the retried event and the marker",
    )
    time.sleep(1.5)  # give any straggling copies a chance to land before counting
    assert count(clickhouse, "SELECT count() FROM beacon.events FINAL WHERE event_id = {e:UUID}", e=event_id) == 1


def test_services_expose_health_and_prometheus_metrics(beacon_stack: StackSettings) -> None:
    assert httpx.get(f"{beacon_stack.collector_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{beacon_stack.collector_url}/readyz").json()["status"] == "ready"
    httpx.get(f"{beacon_stack.collector_url}/p.gif")
    httpx.post(f"{beacon_stack.collector_url}/v1/track", content=b"{}")
    httpx.get(f"{beacon_stack.collector_url}/no/such/page")
    metrics = httpx.get(f"{beacon_stack.collector_url}/metrics").text
    for family in ("beacon_collector_hits_total", "beacon_collector_spool_bytes", "beacon_collector_produce_seconds"):
        assert family in metrics
    for route, status in (("/p.gif", "200"), ("/v1/track", "401"), ("unmatched", "404")):
        assert f'beacon_collector_http_requests_total{{route="{route}",status="{status}"}}' in metrics
    for port, name in (
        (beacon_stack.stream_web_port, "beacon_stream_events_total"),
        (beacon_stack.writer_port, "beacon_writer"),
        (beacon_stack.webhook_port, "beacon_webhook_pending_changes"),
    ):
        assert httpx.get(f"http://{beacon_stack.host}:{port}/health").status_code == 200
        assert name in httpx.get(f"http://{beacon_stack.host}:{port}/metrics").text
