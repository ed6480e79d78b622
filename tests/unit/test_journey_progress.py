"""The customer journey (pure): the furthest stage whose criterion holds, whatever the delivery order and the
repeats; stages per site from YAML."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event, HitSource
from schemas.journeys import InvalidJourneyError, default_journey, load_journey_file
from stream_processors.journeys.journey_progress import JourneyProgress, advance_journey, compile_journey
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.visitors.track_event import milliseconds

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
JOURNEY = compile_journey(default_journey("shop"))


def _event(minutes: int, name: str, url: str = "https://shop.example/") -> Event:
    moment = T0 + timedelta(minutes=minutes)
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id="a-1", user_id="", url=url, referrer="", user_agent="", ip="", properties={},
        source=HitSource.BROWSER, visitor_id="a-1",
    )  # fmt: skip


def _run(events: list[Event]) -> tuple[JourneyProgress | None, list[tuple[int, int]]]:
    progress, steps = None, []
    for event in events:
        progress, transition = advance_journey(progress, JOURNEY, event, milliseconds(event.event_time), T0)
        state = decode_person_state(encode_person_state(PersonState(journey=progress)))  # as the changelog would
        progress = state.journey
        if transition is not None:
            steps.append((transition.from_step, transition.to_step))
    return progress, steps


def test_a_repeat_buyer_without_support_is_loyal() -> None:
    events = [_event(0, "page_view"), _event(1, "product_viewed"), _event(2, "product_viewed"),
              _event(3, "Order Completed"), _event(90, "purchase")]  # fmt: skip
    progress, steps = _run(events)
    assert steps == [(0, 1), (1, 2), (2, 3), (3, 5)]
    assert progress is not None
    assert progress.stage == 5


def test_two_pricing_views_are_consideration_and_a_duplicate_is_not_two() -> None:
    pricing = _event(5, "page_view", "https://shop.example/pricing")
    _, steps = _run([pricing, pricing])
    assert steps == [(0, 1)]
    _, steps = _run([pricing, _event(6, "page_view", "https://shop.example/pricing?plan=pro")])
    assert steps == [(0, 1), (1, 2)]


def test_a_site_sets_its_own_stages(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("site_id: shop\nstages:\n  - name: Signed up\n    any_of: [{count: {event: signup}}]\n")
    assert load_journey_file(path).stages[0].name == "Signed up"
    path.write_text("site_id: shop\nstages:\n  - name: Recent\n    any_of: [{count: {event: x}, in_last: 1d}]\n")
    with pytest.raises(InvalidJourneyError, match="counts events ever"):
        load_journey_file(path)


NAMES = ["page_view", "product_viewed", "purchase", "chat_conversation_started", "x"]


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(NAMES)), max_size=12), data=st.data())
def test_any_order_with_duplicates_ends_at_the_stage_of_all_events(
    rows: list[tuple[int, str]], data: st.DataObject
) -> None:
    events = [_event(minutes, name) for minutes, name in rows]
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=3)) if events else []
    in_order, _ = _run(sorted(events, key=lambda event: event.event_time))
    shuffled, steps = _run(data.draw(st.permutations(events + duplicates)))
    stage = in_order.stage if in_order else 0
    assert (shuffled.stage if shuffled else 0) == stage
    assert all(before < after for before, after in steps), "the journey only moves forward"
    assert (steps[-1][1] if steps else 0) == stage
