"""Customer profiles kept by the running stream equal SQL over the stored events, for generated traffic with
duplicates and late deliveries; the RFM view scores and names segments as the documented grid says."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from schemas.email import EmailTokens
from schemas.events import Event
from schemas.profiles import CustomerProfile, RfmThresholds, rfm_segment
from schemas.topics import CUSTOMER_PROFILES, EVENTS
from schemas.traffic import TrafficSettings
from schemas.warehouse_rows import EVENTS_TABLE
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.polling import wait_until
from tests.support.profiles import assert_profiles_equal_sql
from tests.support.sites import register_site
from tests.support.topics import topic_values


def test_profiles_in_the_stream_equal_sql_over_the_events(beacon_stack: StackSettings, clickhouse: Client) -> None:
    site = register_site(beacon_stack, prefix="profiles")
    traffic = TrafficSettings(
        seed=31, visitors=80, start=datetime.now(UTC) - timedelta(hours=3), hours=2,
        duplicate_rate=0.1, late_rate=0.1, email_share=1.0,
    )  # fmt: skip
    planned = plan_traffic(site.site_id, traffic)
    target = TrafficTarget(
        collector_url=beacon_stack.collector_url,
        site_id=site.site_id,
        write_key=site.write_key,
        origin="https://shop.example",
        email_tokens=EmailTokens(email_signing_keys(beacon_stack.home).split(",")),
    )
    assert send_traffic(planned, target).refused == []
    distinct, emails = expected_events(planned)
    stored = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String} AND user_id != 'registry-probe'"
    wait_until(
        lambda: clickhouse.query(stored, parameters={"s": site.site_id}).result_rows == [(distinct + emails,)],
        what=f"{distinct + emails} events",
        timeout_seconds=120,
    )

    profiles = assert_profiles_equal_sql(clickhouse, site.site_id)

    assert len(profiles) > 40
    assert sum(profile["purchases"] > 0 for profile in profiles.values()) >= 3, "buyers to mean something"
    assert any(profile["returning"] for profile in profiles.values())
    assert any(profile["email_opens"] for profile in profiles.values())
    assert any(profile["chat_conversations"] for profile in profiles.values())
    assert {profile["journey_stage"] for profile in profiles.values()} >= {"Awareness", "Purchase", "Service"}
    # Write amplification: a version per event that changed a profile, never more (pings and duplicates: none).
    # (Counted on the topic: the table is a ReplacingMergeTree, whose merges drop old versions at any time.)
    versions = len(profile_versions(beacon_stack, site.site_id))
    events = clickhouse.query(
        "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String} AND event_name != 'page_ping'",
        parameters={"s": site.site_id},
    ).result_rows[0][0]
    assert versions <= events, (versions, events)
    rfm = clickhouse.query(
        "SELECT rfm_segment, count() FROM beacon.customer_rfm WHERE site_id = {s:String} GROUP BY rfm_segment",
        parameters={"s": site.site_id},
    ).result_rows
    assert dict(rfm).get("prospect", 0) == sum(profile["purchases"] == 0 for profile in profiles.values())
    assert dict(rfm).get("new_customers", 0) > 0, "buyers of today with one order"

    # Re-deliveries on beacon.events itself (as after a crash upstream) count once: the events of 10 people
    # again, then one new page view each; the new views are counted, and are the only new versions.
    people = sorted(person for person, profile in profiles.items() if profile["page_views"] > 1)[:10]
    columns = ", ".join(EVENTS_TABLE.columns)
    again = clickhouse.query(
        f"SELECT {columns} FROM beacon.events FINAL WHERE site_id = {{s:String}}"
        " AND if(user_id != '', user_id, visitor_id) IN {p:Array(String)} ORDER BY event_time",
        parameters={"s": site.site_id, "p": people},
    )
    repeated = [Event.model_validate(dict(zip(again.column_names, row, strict=True))) for row in again.result_rows]
    new_views = [
        next(event for event in repeated if event.person_id == person and event.event_name == "page_view")
        for person in people
    ]
    new_views = [view.model_copy(update={"event_id": uuid.uuid4(), "event_time": now_ms()}) for view in new_views]
    asyncio.run(_produce_events(beacon_stack.kafka_address, [*repeated, *new_views]))
    wait_until(
        lambda: (
            clickhouse.query(stored, parameters={"s": site.site_id}).result_rows == [(distinct + emails + len(people),)]
        ),
        what="the new page views",
        timeout_seconds=60,
    )
    assert_profiles_equal_sql(clickhouse, site.site_id)
    assert len(profile_versions(beacon_stack, site.site_id)) == versions + len(people), "duplicates made no version"


def profile_versions(stack: StackSettings, site_id: str) -> set[tuple[str, int]]:
    """The (person, version) of every profile the stream wrote for the site."""
    profiles = (
        CustomerProfile.model_validate_json(value) for value in topic_values(stack.kafka_address, CUSTOMER_PROFILES)
    )
    return {(profile.person_id, profile.version) for profile in profiles if profile.site_id == site_id}


def now_ms() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def _produce_events(bootstrap: str, events: list[Event]) -> None:
    """As the stream worker writes them: keyed by person, placed by the key's murmur2 hash (aiokafka's default,
    as faust's producer)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(EVENTS.name, event.model_dump_json().encode(), key=event.partition_key())
        await producer.flush()
    finally:
        await producer.stop()


def test_the_rfm_view_scores_recency_now_and_names_every_cell_of_the_grid(clickhouse: Client) -> None:
    """One synthetic customer per (R, F) cell, written straight to the table, read back through the view."""
    rfm, site_id = RfmThresholds(), "rfm-grid"
    days_for_recency = {5: 3, 4: 45, 3: 120, 2: 300, 1: 500}
    purchases_for_frequency = {1: 1, 2: 2, 3: 4, 4: 6, 5: 9}
    now = datetime.now(UTC)
    rows = []
    for recency, days in days_for_recency.items():
        for frequency, purchases in purchases_for_frequency.items():
            last = now - timedelta(days=days, hours=1)
            rows.append((site_id, f"p{recency}{frequency}", 1, purchases, last, frequency, list(rfm.recency_days)))
    rows.append((site_id, "nobody", 1, 0, None, 0, list(rfm.recency_days)))
    clickhouse.insert(
        "beacon.customer_profiles", rows,
        column_names=["site_id", "person_id", "version", "purchases", "last_purchase_at", "frequency_score",
                      "rfm_recency_days"],
    )  # fmt: skip
    result = clickhouse.query(
        "SELECT person_id, recency_days, recency_score, frequency_score, rfm_segment FROM beacon.customer_rfm"
        " WHERE site_id = {s:String}",
        parameters={"s": site_id},
    ).result_rows
    seen = {person: (days, recency, frequency, segment) for person, days, recency, frequency, segment in result}
    assert seen.pop("nobody") == (None, 0, 0, "prospect")
    assert len(seen) == 25
    for person, (days, recency, frequency, segment) in seen.items():
        assert (recency, frequency) == (int(person[1]), int(person[2]))
        assert recency == rfm.recency_score(days)
        assert segment == rfm_segment(recency, frequency), person


def test_a_site_s_own_rfm_thresholds_apply_to_its_profiles(beacon_stack: StackSettings, clickhouse: Client) -> None:
    site = register_site(beacon_stack, prefix="rfm-own")
    folder = beacon_stack.definitions_dir / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{site.site_id}.yaml").write_text(
        f"site_id: {site.site_id}\nrfm:\n  recency_days: [1, 2, 3, 4]\n  purchases: [1, 2, 3, 4]\n"
    )

    def loaded() -> bool:
        answer = httpx.get(f"http://{beacon_stack.host}:{beacon_stack.stream_web_port}/definitions", timeout=3)
        return site.site_id in answer.json().get("profiles", {})

    wait_until(loaded, what="the stream worker to read the site's profile settings", timeout_seconds=30)
    now = datetime.now(UTC)
    batch = [
        {"type": "track", "event": "Order Completed", "userId": "buyer", "messageId": str(uuid.uuid4()),
         "timestamp": (now - timedelta(days=2, hours=1)).isoformat(), "properties": {"revenue": 120}},
    ]  # fmt: skip
    answer = httpx.post(
        f"{beacon_stack.collector_url}/v1/batch", json={"batch": batch, "sentAt": now.isoformat()},
        auth=(site.write_key, ""), timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    query = (
        "SELECT frequency_score, monetary_score, rfm_recency_days, recency_days, recency_score, rfm_segment"
        " FROM beacon.customer_profiles FINAL JOIN beacon.customer_rfm USING (site_id, person_id)"
        " WHERE site_id = {s:String} AND person_id = 'buyer'"
    )
    wait_until(
        lambda: (
            clickhouse.query(query, parameters={"s": site.site_id}).result_rows
            == [(2, 2, [1, 2, 3, 4], 2, 4, "potential_loyalists")]
        ),
        what="the buyer's profile scored with the site's thresholds",
        timeout_seconds=30,
    )
