"""Email figures kept by the running stream equal the email report's SQL over the stored events, for generated
newsletters (people, Apple's privacy proxy, Gmail's image proxy, a link scanner) with duplicates and late
deliveries; and machine opens are told apart from people's."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from clickhouse_connect.driver.client import Client

from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import expected_events, send_traffic
from stream_processors.email.email_deliveries import EmailRules
from stream_processors.email.email_sql import email_deliveries_sql
from tests.support.sites import register_site
from tests.support.traffic import recent_traffic, target_of, wait_for_stored

COMPARED = (
    "campaign_id", "message_id", "recipient_id", "sent_at", "opens", "human_opens", "clicks", "human_clicks",
    "opened", "human_opened", "clicked", "human_clicked", "first_open_at", "first_human_open_at",
    "first_click_at", "first_human_click_at", "machine_reasons", "conversions", "conversion_revenue",
)  # fmt: skip


def _rows(clickhouse: Client, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    result = clickhouse.query(query, parameters=parameters or {})
    return sorted(tuple(row[column] for column in COMPARED) for row in result.named_results())


def test_email_figures_in_the_stream_equal_the_sql_over_the_events(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="email")
    planned = plan_traffic(site.site_id, recent_traffic(seed=31, visitors=120, purchase_share=0.4))
    assert send_traffic(planned, target_of(beacon_stack, site)).refused == []
    # Opens and clicks are timed on receipt (now), after the traffic's planned purchases: some clickers buy now.
    clickers = sorted({event.user_id for event in planned if event.name == "email_clicked"})[:8]
    orders = [
        {"type": "track", "event": "Order Completed", "userId": user_id, "messageId": str(uuid.uuid4()),
         "properties": {"order_id": f"o-{user_id}", "revenue": 25.5, "currency": "EUR"}}
        for user_id in clickers
    ]  # fmt: skip
    bought = httpx.post(f"{beacon_stack.collector_url}/v1/batch", json={"batch": orders}, auth=(site.write_key, ""))
    assert bought.status_code == 200, bought.text
    wait_for_stored(clickhouse, site.site_id, sum(expected_events(planned)) + len(orders))

    expected = _rows(clickhouse, email_deliveries_sql(site.site_id, EmailRules()))
    in_stream = "SELECT * FROM beacon.email_deliveries FINAL WHERE site_id = {s:String}"
    deadline = time.monotonic() + 60
    while (found := _rows(clickhouse, in_stream, {"s": site.site_id})) != expected:
        if time.monotonic() > deadline:
            differ = [pair for pair in zip(found, expected, strict=False) if pair[0] != pair[1]]
            raise AssertionError(f"{len(found)} rows vs {len(expected)}; first differences: {differ[:3]}")
        time.sleep(0.5)

    # (Opens and clicks are timed on receipt, and the generator sends hours of traffic at once, so "too soon after
    # the send" cannot happen here; the unit tests cover it.)
    reasons = {reason for row in expected for reason in row[COMPARED.index("machine_reasons")]}
    assert {"apple_privacy_proxy", "proxy_refetch", "scanner_network", "click_burst"} <= reasons
    opened = sum(row[COMPARED.index("opened")] for row in expected)
    human_opened = sum(row[COMPARED.index("human_opened")] for row in expected)
    assert 0 < human_opened < opened, "machine opens inflate the raw open rate, and are told apart"
    assert sum(row[COMPARED.index("conversions")] for row in expected) > 0, "some clicks lead to purchases"
