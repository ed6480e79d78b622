"""Live segments (pure): definitions, rules evaluated at a moment, entries and exits on events and on time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import Event, HitSource
from schemas.segments import Change, InvalidSegmentError, read_segment_definition, segment_yaml
from stream_processors.segments.segment_rules import compile_segment
from stream_processors.segments.segment_tracking import (
    PersonSegments,
    evaluate_segments,
    next_evaluation,
    track_segments,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ABANDONED = """
segment_id: abandoned-cart
site_id: shop
name: Added to cart, no purchase within an hour
rules:
  - did: {event: add_to_cart}
    then_not: {event: [purchase, Order Completed]}
    within: 1h
"""


def _event(minutes: float, name: str, **fields: object) -> Event:
    moment = T0 + timedelta(minutes=minutes)
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id="a-1", user_id="", url="https://shop.example/", referrer="", user_agent="", ip="",
        properties={}, source=HitSource.BROWSER, visitor_id="a-1", **fields,
    )  # fmt: skip


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_definition_reads_from_yaml_and_round_trips() -> None:
    segment = read_segment_definition(ABANDONED)
    assert read_segment_definition(segment_yaml(segment)) == segment
    with pytest.raises(InvalidSegmentError, match="within"):
        read_segment_definition(ABANDONED.replace("within: 1h", "within: soon"), "x.yaml")
    with pytest.raises(InvalidSegmentError, match=r"x\.yaml"):
        read_segment_definition(ABANDONED + "  - attribute: shoe_size\n    is: 42\n", "x.yaml")


def test_no_purchase_within_an_hour_enters_when_the_hour_is_up_and_a_late_purchase_exits() -> None:
    segments = [compile_segment(read_segment_definition(ABANDONED))]
    state, changes = track_segments(PersonSegments(), _event(0, "add_to_cart"), segments, _at(0), 100)
    assert changes == ()
    assert next_evaluation(state, segments, _at(0)) == _at(60)
    state, changes = evaluate_segments(state, segments, _at(60), "shop", "a-1")
    assert [(change.change, change.sequence, change.event_id) for change in changes] == [(Change.ENTERED, 1, "")]
    late_purchase = _event(30, "purchase")  # happened within the hour, arrives later
    state, changes = track_segments(state, late_purchase, segments, _at(61), 100)
    assert [(change.change, change.sequence) for change in changes] == [(Change.EXITED, 2)]
    assert changes[0].event_id == str(late_purchase.event_id)


def test_a_count_in_a_window_exits_when_the_window_slides_past_its_events() -> None:
    rules = "rules:\n  - count: {event: product_viewed}\n    at_least: 2\n    in_last: 1h\n"
    segments = [compile_segment(read_segment_definition("segment_id: keen\nsite_id: shop\n" + rules))]
    second_view = _event(10, "product_viewed")
    state, _ = track_segments(PersonSegments(), _event(0, "product_viewed"), segments, _at(0), 100)
    state, entered = track_segments(state, second_view, segments, _at(10), 100)
    assert [change.change for change in entered] == [Change.ENTERED]
    assert next_evaluation(state, segments, _at(10)) == _at(60)
    state, exited = evaluate_segments(state, segments, _at(60), "shop", "a-1")
    assert [change.change for change in exited] == [Change.EXITED]
    state, again = track_segments(state, second_view, segments, _at(61), 100)  # a re-delivery
    assert again == ()


def test_recency_attributes_and_what_is_not_counted() -> None:
    segment = read_segment_definition(
        "segment_id: lapsed-de\nsite_id: shop\nrules:\n  - not_seen_for: 30d\n  - attribute: country\n    is: DE\n"
    )
    segments = [compile_segment(segment)]
    state, _ = track_segments(PersonSegments(), _event(0, "page_view", country="DE"), segments, _at(0), 100)
    state, _ = track_segments(state, _event(1, "page_ping", country="FR"), segments, _at(1), 100)  # not counted
    state, _ = track_segments(state, _event(2, "page_view", country="FR", is_bot=True), segments, _at(2), 100)
    assert next_evaluation(state, segments, _at(2)) == _at(30 * 24 * 60)
    state, changes = evaluate_segments(state, segments, _at(30 * 24 * 60), "shop", "a-1")
    assert [change.change for change in changes] == [Change.ENTERED]


def test_a_new_version_of_a_segment_starts_with_nobody_in_it() -> None:
    first = compile_segment(read_segment_definition(ABANDONED))
    second = compile_segment(read_segment_definition(ABANDONED.replace("within: 1h", "within: 2h")))
    state, _ = track_segments(PersonSegments(), _event(0, "add_to_cart"), [first], _at(0), 100)
    state, _ = evaluate_segments(state, [first], _at(60), "shop", "a-1")
    state, changes = evaluate_segments(state, [second], _at(61), "shop", "a-1")
    assert changes == ()
    assert state.memberships["abandoned-cart"].version == second.version
