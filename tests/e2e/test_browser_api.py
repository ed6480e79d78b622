"""The browser API as a web page uses it: text/plain JSON, CORS by the site's domains, batches."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
from clickhouse_connect.driver.client import Client

from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite

ALLOWED = "https://shop.example"


def send(stack: StackSettings, path: str, body: Any, origin: str | None = ALLOWED) -> httpx.Response:
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 (browser test)"}
    if origin:
        headers["Origin"] = origin
    return httpx.post(f"{stack.collector_url}{path}", content=orjson.dumps(body), headers=headers, timeout=10)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_page_sends_an_event_as_text_plain_from_its_domain(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    event_id = str(uuid.uuid4())
    body = {
        "site": registered_site.site_id,
        "event_id": event_id,
        "name": "page_view",
        "url": "https://shop.example/shoes",
        "anonymous_id": "browser-visitor",
        "timestamp": now_ms() - 1500,
        "sent_at": now_ms(),
        "properties": {"title": "Shoes", "in_stock": True},
    }
    response = send(beacon_stack, "/api/event", body)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    sql = "SELECT source, url, anonymous_id, properties FROM beacon.events WHERE event_id = {e:UUID}"
    wait_until(lambda: bool(clickhouse.query(sql, parameters={"e": event_id}).result_rows), what="the browser event")
    assert clickhouse.query(sql, parameters={"e": event_id}).result_rows == [
        ("browser", "https://shop.example/shoes", "browser-visitor", {"title": "Shoes", "in_stock": "true"})
    ]


def test_a_batch_accepts_the_valid_events_and_lists_the_rest(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    marker = uuid.uuid4().hex
    body = {
        "site": registered_site.site_id,
        "sent_at": now_ms(),
        "events": [
            {"name": "add_to_cart", "anonymous_id": marker, "properties": {"sku": "A-1"}},
            {"name": "page_view", "anonymous_id": marker},  # a page view without its page
            {"name": "add_to_cart", "anonymous_id": marker, "colour": "red"},  # an unknown field
        ],
    }
    response = send(beacon_stack, "/api/events", body)
    assert response.status_code == 400
    assert response.json()["accepted"] == 1
    assert [(error["index"], error["reason"]) for error in response.json()["errors"]] == [
        (1, "missing_url"),
        (2, "invalid_message"),
    ]
    sql = "SELECT event_name FROM beacon.events WHERE anonymous_id = {m:String}"
    wait_until(
        lambda: clickhouse.query(sql, parameters={"m": marker}).result_rows == [("add_to_cart",)], what="one event"
    )


def test_another_sites_page_is_refused_and_recorded(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    marker = uuid.uuid4().hex
    body = {"site": registered_site.site_id, "name": "signup", "anonymous_id": marker}
    response = send(beacon_stack, "/api/event", body, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers
    sql = "SELECT reason, site_id FROM beacon.dead_letters WHERE payload LIKE {m:String}"
    wait_until(
        lambda: (
            clickhouse.query(sql, parameters={"m": f"%{marker}%"}).result_rows
            == [("origin_not_allowed", registered_site.site_id)]
        ),
        what="the refused event in dead letters",
    )


def test_unknown_sites_and_malformed_bodies_get_precise_errors(
    beacon_stack: StackSettings, registered_site: RegisteredSite
) -> None:
    unknown = send(beacon_stack, "/api/event", {"site": "no-such-site", "name": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_site")
    not_json = httpx.post(f"{beacon_stack.collector_url}/api/event", content=b"<html>", headers={"Origin": ALLOWED})
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_json")
    no_site = send(beacon_stack, "/api/events", {"events": []})
    assert no_site.status_code == 400
    assert "site" in no_site.json()["message"]


def test_preflight_only_for_registered_domains(beacon_stack: StackSettings, registered_site: RegisteredSite) -> None:
    def preflight(origin: str) -> httpx.Response:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        return httpx.options(f"{beacon_stack.collector_url}/api/events", headers=headers)

    allowed = preflight(ALLOWED)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert preflight("https://evil.example").status_code == 403
