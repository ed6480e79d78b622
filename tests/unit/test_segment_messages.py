"""Segment API messages become canonical events by the same steps as pixel hits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.dead_letters import DropReason
from schemas.events import Consent, Event, HitSource, RawHit
from stream_processors.normalize.pipeline import normalize_hit
from stream_processors.normalize.steps import Drop

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def hit(message: dict[str, Any], sent_at: datetime | None = None) -> RawHit:
    return RawHit(
        hit_id=uuid.UUID("00000000-0000-4000-8000-000000000002"),
        source=HitSource.SEGMENT,
        received_at=RECEIVED,
        site_id="shop",
        body=orjson.dumps(message).decode(),
        sent_at=sent_at,
        ip="198.51.100.23",
        user_agent="analytics-python/2.4",
        referer="",
    )


def event(message: dict[str, Any], **kwargs: Any) -> Event:
    outcome = normalize_hit(hit(message, **kwargs))
    assert isinstance(outcome, Event), outcome
    return outcome


def test_a_track_call_keeps_its_name_ids_and_properties_as_text() -> None:
    message_id = str(uuid.uuid4())
    tracked = event(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": 42,
            "anonymousId": "anon-7",
            "messageId": message_id,
            "properties": {"revenue": 19.99, "coupon": None, "items": [{"sku": "A"}], "gift": True, "note": "hi"},
            "context": {
                "ip": "203.0.113.5",
                "userAgent": "Mozilla/5.0",
                "page": {"url": "https://shop.example/thanks"},
            },
        }
    )
    assert tracked.event_id == uuid.UUID(message_id)
    assert (tracked.event_name, tracked.user_id, tracked.anonymous_id) == ("Order Completed", "42", "anon-7")
    assert tracked.properties == {
        "revenue": "19.99",
        "coupon": "null",
        "items": '[{"sku":"A"}]',
        "gift": "true",
        "note": "hi",
    }
    assert tracked.url == "https://shop.example/thanks"
    assert (tracked.ip, tracked.user_agent) == ("203.0.113.0", "Mozilla/5.0")


def test_a_message_id_that_is_not_a_uuid_maps_to_a_stable_one() -> None:
    first = event({"type": "track", "event": "E", "userId": "u", "messageId": "ajs-next-1699999999-abc"})
    again = event({"type": "track", "event": "E", "userId": "u", "messageId": "ajs-next-1699999999-abc"})
    assert first.event_id == again.event_id
    assert first.event_id == uuid.uuid5(uuid.NAMESPACE_URL, "shop:ajs-next-1699999999-abc")


@pytest.mark.parametrize(
    ("message", "name", "properties"),
    [
        ({"type": "page", "name": "Pricing", "properties": {"url": "https://s.example/p"}}, "page_view",
         {"url": "https://s.example/p", "name": "Pricing"}),
        ({"type": "screen", "name": "Home"}, "screen_view", {"name": "Home"}),
        ({"type": "identify", "traits": {"plan": "pro"}}, "identify", {"plan": "pro"}),
        ({"type": "identify", "context": {"traits": {"plan": "pro"}}}, "identify", {"plan": "pro"}),
        ({"type": "group", "groupId": "acme", "traits": {"seats": 3}}, "group", {"seats": "3", "group_id": "acme"}),
        ({"type": "alias", "previousId": "anon-1"}, "alias", {"previous_id": "anon-1"}),
    ],
)  # fmt: skip
def test_each_call_type_has_its_canonical_name(message: dict[str, Any], name: str, properties: dict[str, str]) -> None:
    converted = event({"userId": "u", **message})
    assert (converted.event_name, converted.properties) == (name, properties)


def test_a_server_side_page_call_needs_no_url() -> None:
    assert event({"type": "page", "userId": "u", "name": "Home"}).url == ""


def test_client_timestamps_are_corrected_by_the_batchs_sent_at() -> None:
    client_clock_ahead = timedelta(hours=5)
    happened = RECEIVED - timedelta(seconds=20) + client_clock_ahead
    converted = event(
        {"type": "track", "event": "E", "userId": "u", "timestamp": happened.isoformat()},
        sent_at=RECEIVED + client_clock_ahead,
    )
    assert converted.event_time == RECEIVED - timedelta(seconds=20)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "track", "userId": "u"}, DropReason.INVALID_MESSAGE),
        ({"type": "track", "event": "E"}, DropReason.INVALID_MESSAGE),
        ({"type": "explode", "userId": "u"}, DropReason.INVALID_MESSAGE),
        ({"type": "group", "userId": "u"}, DropReason.INVALID_MESSAGE),
        ({"type": "track", "event": "E", "userId": "u", "timestamp": "yesterday"}, DropReason.INVALID_MESSAGE),
        ({"type": "track", "event": "9lives", "userId": "u"}, DropReason.INVALID_EVENT_NAME),
        ({"type": "page", "userId": "u", "properties": {"url": "/relative"}}, DropReason.INVALID_URL),
        (
            {"type": "track", "event": "E", "userId": "u", "timestamp": "1999-01-01T00:00:00Z"},
            DropReason.INVALID_TIMESTAMP,
        ),
    ],
)
def test_invalid_messages_are_dropped_with_a_reason(message: dict[str, Any], reason: DropReason) -> None:
    outcome = normalize_hit(hit(message))
    assert isinstance(outcome, Drop)
    assert outcome.reason is reason


@pytest.mark.parametrize(
    ("preferences", "consent"),
    [
        (None, Consent.UNKNOWN),
        ({"Analytics": True, "Advertising": True}, Consent.GRANTED),
        ({"Analytics": True, "Advertising": False}, Consent.PARTIAL),
        ({"Analytics": False}, Consent.DENIED),
    ],
)
def test_segment_consent_preferences_become_one_state(preferences: dict[str, bool] | None, consent: Consent) -> None:
    context = {"consent": {"categoryPreferences": preferences}} if preferences is not None else {}
    assert event({"type": "track", "event": "Bought", "userId": "u", "context": context}).consent is consent
