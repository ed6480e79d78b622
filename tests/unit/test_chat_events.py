"""Chat events carry their typed properties, whichever API sent them; a misfit is refused with the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.dead_letters import DropReason
from schemas.events import Event, HitSource, RawHit
from stream_processors.normalize.pipeline import normalize_hit
from stream_processors.normalize.steps import Drop


def pixel(query: dict[str, str]) -> RawHit:
    return RawHit(
        hit_id=uuid.uuid4(), source=HitSource.PIXEL, received_at=datetime.now(UTC), site_id="shop",
        query={"site": "shop", **query}, ip="", user_agent="", referer="",
    )  # fmt: skip


def segment(message: dict[str, Any]) -> RawHit:
    return RawHit(
        hit_id=uuid.uuid4(), source=HitSource.SEGMENT, received_at=datetime.now(UTC), site_id="shop",
        body=orjson.dumps({"type": "track", "userId": "u", **message}).decode(), ip="", user_agent="", referer="",
    )  # fmt: skip


def test_a_rating_from_the_pixel_is_read_from_text() -> None:
    event = normalize_hit(pixel({"e": "chat_rated", "p.conversation_id": "c-1", "p.rating": "5"}))
    assert isinstance(event, Event)
    assert event.properties == {"conversation_id": "c-1", "rating": "5"}


def test_a_full_conversation_from_the_segment_api() -> None:
    calls = [
        ("chat_conversation_started", {"conversation_id": "c-9", "channel": "web", "trigger": "button"}),
        ("chat_message_sent", {"conversation_id": "c-9", "message_length": 42, "intent": "refund"}),
        ("chat_message_received", {"conversation_id": "c-9", "response_time_ms": 850, "sender": "bot"}),
        ("chat_handoff_to_human", {"conversation_id": "c-9", "reason": "refund over limit"}),
        ("chat_conversation_ended", {"conversation_id": "c-9", "duration_seconds": 312.5, "resolved": True}),
    ]
    for name, properties in calls:
        assert isinstance(normalize_hit(segment({"event": name, "properties": properties})), Event), name


@pytest.mark.parametrize(
    ("name", "properties", "field"),
    [
        ("chat_rated", {"conversation_id": "c-1", "rating": 6}, "rating"),
        ("chat_rated", {"conversation_id": "c-1"}, "rating"),
        ("chat_message_sent", {"message_length": 3}, "conversation_id"),
        ("chat_message_received", {"conversation_id": "c", "sender": "cat"}, "sender"),
        ("chat_conversation_ended", {"conversation_id": "c", "resolved": "maybe"}, "resolved"),
    ],
)
def test_misfit_properties_are_refused_naming_the_field(name: str, properties: dict[str, Any], field: str) -> None:
    outcome = normalize_hit(segment({"event": name, "properties": properties}))
    assert isinstance(outcome, Drop)
    assert outcome.reason is DropReason.INVALID_PROPERTY
    assert field in outcome.detail


def test_a_null_optional_property_is_fine() -> None:
    message = {"event": "chat_conversation_ended", "properties": {"conversation_id": "c", "messages": None}}
    assert isinstance(normalize_hit(segment(message)), Event)


def test_other_events_are_not_typed() -> None:
    assert isinstance(normalize_hit(segment({"event": "Anything Goes", "properties": {"rating": "eleven"}})), Event)
