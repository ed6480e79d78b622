"""Snowplow's Python tracker, unchanged, against the collector (POST tp2 and GET /i emitters)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from snowplow_tracker import (
    Emitter,
    PagePing,
    PageView,
    SelfDescribing,
    SelfDescribingJson,
    StructuredEvent,
    Subject,
    Tracker,
)

from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite


@pytest.mark.parametrize("method", ["post", "get"])
def test_the_snowplow_tracker_works_unchanged(
    method: str, beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    failures: list[Any] = []
    user = f"sp-user-{uuid.uuid4().hex[:8]}"
    emitter = Emitter(
        beacon_stack.collector_url, method=method, batch_size=1, on_failure=lambda _, events: failures.append(events)
    )
    subject = Subject().set_user_id(user).set_domain_user_id(f"duid-{user}")
    tracker = Tracker("beacon-test", emitter, subject=subject, app_id=registered_site.site_id)
    tracker.track(
        PageView(page_url="https://shop.example/shoes", page_title="Shoes", referrer="https://search.example/")
    )
    tracker.track(PagePing(page_url="https://shop.example/shoes", min_y=0, max_y=800))
    tracker.track(StructuredEvent(category="cart", action="add_to_cart", label="sku-42", value=19.9))
    link_click = SelfDescribingJson(
        "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1", {"targetUrl": "https://shop.example/sale"}
    )
    tracker.track(SelfDescribing(link_click))
    tracker.flush()
    assert failures == []

    sql = (
        "SELECT event_name, url, anonymous_id, properties FROM beacon.events FINAL"
        " WHERE user_id = {u:String} ORDER BY event_name"
    )

    def stored() -> list[Any]:
        return list(clickhouse.query(sql, parameters={"u": user}).result_rows)

    wait_until(lambda: len(stored()) == 4, what="four tracker events")
    by_name = {name: (url, anonymous_id, properties) for name, url, anonymous_id, properties in stored()}
    assert by_name["page_view"][0] == "https://shop.example/shoes"
    assert by_name["page_view"][1] == f"duid-{user}"
    assert by_name["page_view"][2]["title"] == "Shoes"
    assert by_name["page_ping"][2]["max_y"] == "800"
    assert by_name["add_to_cart"][2]["category"] == "cart"
    assert by_name["add_to_cart"][2]["value"] == "19.9"
    assert by_name["link_click"][2]["targetUrl"] == "https://shop.example/sale"
    assert by_name["link_click"][2]["schema"] == "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"


def test_bad_tracker_events_get_precise_errors(beacon_stack: StackSettings, registered_site: RegisteredSite) -> None:
    body = {
        "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        "data": [
            {"e": "pv", "aid": registered_site.site_id, "url": "https://shop.example/", "eid": str(uuid.uuid4())},
            {"e": "pv", "aid": registered_site.site_id},  # no page URL
            {"e": "zz", "aid": registered_site.site_id},
            {"e": "pv", "aid": "nobody-has-this-site", "url": "https://shop.example/"},
        ],
    }
    response = httpx.post(f"{beacon_stack.collector_url}/com.snowplowanalytics.snowplow/tp2", json=body)
    assert response.status_code == 400
    assert response.json()["accepted"] == 1
    assert [(error["index"], error["reason"]) for error in response.json()["errors"]] == [
        (1, "missing_url"),
        (2, "invalid_message"),
        (3, "unknown_site"),
    ]
    not_payload = httpx.post(f"{beacon_stack.collector_url}/com.snowplowanalytics.snowplow/tp2", json={"data": []})
    assert not_payload.status_code == 400
    pixel = httpx.get(f"{beacon_stack.collector_url}/i", params={"e": "pv", "aid": "nobody-has-this-site"})
    assert (pixel.status_code, pixel.headers["content-type"]) == (200, "image/gif")


def test_a_browser_tracker_posts_from_its_sites_domains_only(
    beacon_stack: StackSettings, registered_site: RegisteredSite
) -> None:
    url = f"{beacon_stack.collector_url}/com.snowplowanalytics.snowplow/tp2"
    preflight_headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(url, headers={"Origin": "https://shop.example", **preflight_headers})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert httpx.options(url, headers={"Origin": "https://evil.example", **preflight_headers}).status_code == 403

    def page_view() -> dict[str, str]:
        return {"e": "pv", "aid": registered_site.site_id, "url": "https://shop.example/", "eid": str(uuid.uuid4())}

    body = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [page_view()]}
    from_its_page = httpx.post(url, json=body, headers={"Origin": "https://shop.example"})
    assert from_its_page.status_code == 200
    assert from_its_page.headers["access-control-allow-origin"] == "https://shop.example"
    from_elsewhere = httpx.post(url, json={**body, "data": [page_view()]}, headers={"Origin": "https://evil.example"})
    assert from_elsewhere.status_code == 400
    (error,) = from_elsewhere.json()["errors"]
    assert error["reason"] == "origin_not_allowed"
    assert error["deadLetterId"]
