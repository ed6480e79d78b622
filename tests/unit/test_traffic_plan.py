"""The traffic generator: reproducible, realistic, and every planned event valid for the pipeline."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson

from schemas.events import Event, HitSource, RawHit
from schemas.traffic import Delivery, PlannedEvent, PropertyValue, TrafficSettings
from stack.traffic_plan import CRAWLERS, plan_traffic
from stack.traffic_send import _browser_event, _segment_track, expected_events
from stream_processors.normalize.pipeline import normalize_hit

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
SETTINGS = TrafficSettings(visitors=150, start=START, duplicate_rate=0.1, late_rate=0.1, bot_share=0.1)


def test_the_same_seed_plans_the_same_traffic_and_another_seed_other_traffic() -> None:
    assert plan_traffic("shop", SETTINGS) == plan_traffic("shop", SETTINGS)
    assert plan_traffic("shop", SETTINGS) != plan_traffic("shop", SETTINGS.model_copy(update={"seed": 2}))


def test_the_traffic_has_the_behaviours_downstream_agents_need() -> None:
    planned = plan_traffic("shop", SETTINGS)
    names = Counter(event.name for event in planned)
    for name in ("page_view", "page_ping", "product_viewed", "add_to_cart", "identify", "Order Completed",
                 "chat_conversation_started", "chat_conversation_ended", "email_sent", "email_opened"):  # fmt: skip
        assert names[name] > 0, name
    assert any("utm_campaign=" in event.url for event in planned)
    assert {event.user_agent for event in planned if event.bot} <= set(CRAWLERS)
    assert any(event.bot for event in planned)
    assert len({event.visitor_id for event in planned if event.user_id}) > 5  # some visitors became customers


def test_retries_repeat_an_earlier_event_and_late_events_are_sent_out_of_order() -> None:
    planned = plan_traffic("shop", SETTINGS)
    sent_before: dict[object, PlannedEvent] = {}
    retries = 0
    for event in planned:
        if event.duplicate:
            retries += 1
            original = sent_before[event.event_id]
            assert (original.occurred_at, original.properties) == (event.occurred_at, event.properties)
        sent_before.setdefault(event.event_id, event)
    late = [event for event in planned if event.send_at - event.occurred_at >= timedelta(minutes=10)]
    assert retries > 0
    assert late
    assert [event.send_at for event in planned] == sorted(event.send_at for event in planned)
    assert sorted(planned, key=lambda event: event.occurred_at) != planned
    distinct, emails = expected_events(planned)
    assert distinct == len({event.event_id for event in planned}) - emails


def test_every_planned_event_passes_the_normalize_pipeline() -> None:
    """Generated traffic must test the pipeline's logic, not land in the dead letters."""
    for event in plan_traffic("shop", SETTINGS):
        if event.delivery in (Delivery.EMAIL_OPEN, Delivery.EMAIL_CLICK):
            continue  # signed links: checked by the collector, tested end to end
        source, body = (
            (HitSource.BROWSER, _browser_event(event))
            if event.delivery is Delivery.BROWSER
            else (HitSource.SEGMENT, _segment_track(event))
        )
        hit = RawHit(hit_id=event.event_id, source=source, received_at=event.send_at, site_id="shop",
                     body=orjson.dumps(body).decode(), sent_at=event.send_at, ip=event.ip,
                     user_agent=event.user_agent, referer="")  # fmt: skip
        outcome = normalize_hit(hit)
        assert isinstance(outcome, Event), (event.name, outcome)
        assert outcome.event_time == event.occurred_at  # sent_at == receipt here: no skew to correct


def test_pings_follow_the_trackers_contract_page_by_page() -> None:
    """A ping names its page view (``page_view_id``: the page view's event id, which page events carry too),
    reports engaged time as an increment since the previous ping, and the furthest % scrolled so far."""
    planned = [event for event in plan_traffic("shop", SETTINGS) if not event.duplicate]
    page_views = {str(event.event_id): event for event in planned if event.name == "page_view"}
    assert all(view.properties["page_view_id"] == page_view_id for page_view_id, view in page_views.items())
    depths: dict[PropertyValue, list[PropertyValue]] = {}
    for ping in sorted((event for event in planned if event.name == "page_ping"), key=lambda e: e.occurred_at):
        view = page_views[str(ping.properties["page_view_id"])]
        assert (ping.visitor_id, ping.url) == (view.visitor_id, view.url)
        assert ping.occurred_at > view.occurred_at
        assert ping.properties["engaged_ms"] == 15_000
        depths.setdefault(view.properties["page_view_id"], []).append(ping.properties["scroll_depth"])
    assert len(depths) > 50
    for scrolled in depths.values():
        assert all(isinstance(depth, int) and 0 < depth <= 100 for depth in scrolled)
        assert scrolled == sorted(scrolled), "the furthest depth so far never shrinks"
    assert any(len(set(scrolled)) > 2 for scrolled in depths.values())
    from_pages = [e for e in planned if e.name in ("product_viewed", "chat_conversation_started")]
    assert from_pages
    assert all(event.properties["page_view_id"] in page_views for event in from_pages)
