"""Live segments (pure): definitions, rules evaluated at a moment, entries and exits on events and on time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event, HitSource
from schemas.segments import Change, InvalidSegmentError, SegmentChange, read_segment_definition, segment_yaml
from stream_processors.segments.segment_rules import (
    AbsenceTest,
    CountTest,
    Evidence,
    RecencyTest,
    Test,
    compile_segment,
    next_change_ms,
)
from stream_processors.segments.segment_timers import SegmentTimers
from stream_processors.segments.segment_tracking import (
    PersonSegments,
    evaluate_segments,
    next_evaluation,
    track_segments,
)
from stream_processors.visitors.track_event import milliseconds

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


MIXED = [
    "segment_id: keen\nsite_id: shop\nrules:\n  - count: {event: product_viewed}\n    at_least: 2\n    in_last: 30m\n",
    ABANDONED.replace("within: 1h", "within: 20m"),
    "segment_id: lapsed\nsite_id: shop\nrules:\n  - not_seen_for: 45m\n",
    "segment_id: active-de\nsite_id: shop\nrules:\n  - seen_within: 15m\n  - attribute: country\n    is: DE\n",
    "segment_id: buyer\nsite_id: shop\nrules:\n  - count: {event: purchase}\n    at_least: 1\n",
]
STEP = st.tuples(
    st.sampled_from(["product_viewed", "add_to_cart", "purchase", "page_view", "page_ping"]),
    st.integers(min_value=-40, max_value=5),  # the event's time, minutes from the moment it is processed
    st.integers(min_value=0, max_value=50),  # minutes since the step before
    st.sampled_from(["DE", "FR", ""]),
    st.booleans(),  # whether a due timer runs before the event, or after it (as the agent's timer may)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=25))
def test_evaluating_only_what_an_event_touched_plus_the_timers_misses_no_change(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    """The agent's way (an event evaluates the segments whose inputs it changed; a timer evaluates everyone
    when time alone may change a membership) leaves every membership as a full evaluation would, at any time."""
    segments = [compile_segment(read_segment_definition(text)) for text in MIXED]
    timers = SegmentTimers()
    state = PersonSegments()
    now = 0.0
    emitted: dict[str, list[Change]] = {}

    def run_timers(moment: float) -> None:  # as the agent's timer: at its clock, once the evaluation is due
        nonlocal state
        at = _at(moment)
        for _ in timers.due(milliseconds(at), 10):
            state, changes = evaluate_segments(state, segments, at, "shop", "a-1")
            record(changes)
            reschedule(at)

    def reschedule(at: datetime) -> None:
        due = next_evaluation(state, segments, at)
        timers.schedule(b"a-1", 0, None if due is None else milliseconds(due), milliseconds(at))

    def record(changes: tuple[SegmentChange, ...]) -> None:
        for change in changes:
            emitted.setdefault(change.segment_id, []).append(change.change)

    for name, offset, gap, country, timers_first in steps:
        now += gap
        if timers_first:
            run_timers(now)
        event = _event(now + offset, name, country=country)
        state, changes = track_segments(state, event, segments, _at(now), 1000)
        record(changes)
        reschedule(_at(now))
        run_timers(now)
        _, missed = evaluate_segments(state, segments, _at(now), "shop", "a-1")
        assert missed == (), f"at minute {now}: a full evaluation still finds changes"
    for changes in emitted.values():  # entries and exits alternate, starting with an entry
        assert changes == [Change.ENTERED, Change.EXITED] * (len(changes) // 2) + [Change.ENTERED] * (len(changes) % 2)


def _every_moment(test: Test, evidence: Evidence) -> list[int]:
    """Every moment time alone may change ``test`` (by brute force: the reference for ``next_change_ms``)."""
    if isinstance(test, CountTest):
        times = evidence.times.get(test.match, ())
        return [*times, *(ms + test.window_ms for ms in times if test.window_ms is not None)]
    if isinstance(test, AbsenceTest):
        times = evidence.times.get(test.did, ())
        return [
            moment
            for did in times
            for moment in (did, did + test.within_ms, None if test.window_ms is None else did + test.window_ms)
            if moment is not None
        ]
    if isinstance(test, RecencyTest) and evidence.last_seen_ms is not None:
        return [evidence.last_seen_ms + (test.not_seen_for_ms or test.seen_within_ms or 0)]
    return []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    st.integers(min_value=0, max_value=250),
)
def test_the_next_moment_is_the_first_of_every_moment_after_now(views: list[int], carts: list[int], now: int) -> None:
    segments = [compile_segment(read_segment_definition(text)) for text in MIXED]
    minute = 60_000
    times = {
        key: tuple(sorted(ms * minute for ms in (views if match.events & {"product_viewed", "purchase"} else carts)))
        for segment in segments
        for key, match in segment.matches.items()
    }
    evidence = Evidence(times, max([*views, *carts], default=0) * minute if views or carts else None, {})
    expected = min(
        (m for s in segments for test in s.tests for m in _every_moment(test, evidence) if m > now * minute),
        default=None,
    )
    assert next_change_ms(segments, evidence, now * minute) == expected
