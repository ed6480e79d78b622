"""Browser API events become canonical events by the same steps as every other source."""

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


def hit(event: dict[str, Any], sent_at: datetime | None = None, referer: str = "") -> RawHit:
    return RawHit(
        hit_id=uuid.uuid4(),
        source=HitSource.BROWSER,
        received_at=RECEIVED,
        site_id="shop",
        body=orjson.dumps(event).decode(),
        sent_at=sent_at,
        ip="192.0.2.44",
        user_agent="Mozilla/5.0",
        referer=referer,
    )


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_an_event_with_a_fast_client_clock_lands_at_the_right_time() -> None:
    ahead = timedelta(minutes=7)
    event = normalize_hit(
        hit({"name": "click", "timestamp": ms(RECEIVED + ahead - timedelta(seconds=3))}, sent_at=RECEIVED + ahead)
    )
    assert isinstance(event, Event)
    assert event.event_time == RECEIVED - timedelta(seconds=3)
    assert event.ip == "192.0.2.0"


def test_the_page_url_falls_back_to_the_referer_of_the_request() -> None:
    event = normalize_hit(hit({"name": "page_view"}, referer="https://shop.example/cart"))
    assert isinstance(event, Event)
    assert event.url == "https://shop.example/cart"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"name": "page_view"}, DropReason.MISSING_URL),
        ({"name": "click", "event_id": "not-a-uuid"}, DropReason.INVALID_EVENT_ID),
        ({"name": "click", "unknown_field": 1}, DropReason.INVALID_MESSAGE),
        ({"name": "click", "properties": {"nested": {"a": 1}}}, DropReason.INVALID_MESSAGE),
        ({"name": "click", "timestamp": 10**18}, DropReason.INVALID_TIMESTAMP),
    ],
)
def test_invalid_browser_events_are_dropped_with_a_reason(event: dict[str, Any], reason: DropReason) -> None:
    outcome = normalize_hit(hit(event))
    assert isinstance(outcome, Drop)
    assert outcome.reason is reason


def test_a_browser_event_carries_the_pages_consent() -> None:
    outcome = normalize_hit(hit({"name": "signup", "consent": "granted"}))
    assert isinstance(outcome, Event)
    assert outcome.consent is Consent.GRANTED
