"""A segment's members in the stream equal its SQL over the stored events at the same moment, for every kind
of rule, on random behaviour stored in the real warehouse (late and repeated events included)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from schemas.events import Event, HitSource
from schemas.segments import SegmentDefinition
from schemas.warehouse_rows import EVENTS_TABLE
from stream_processors.segments.segment_rules import compile_segment
from stream_processors.segments.segment_sql import segment_members_sql
from stream_processors.segments.segment_tracking import PersonSegments, evaluate_segments, track_segments
from tests.support.deliveries import delivered_out_of_order

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SEGMENTS = [
    {"rules": [{"count": {"event": "view", "where": {"properties.sku": ["a", "b"]}}, "at_least": 3, "in_last": "2h"}]},
    {"rules": [{"count": {"event": ["view", "cart"]}, "at_least": 1, "at_most": 4}]},
    {"rules": [{"did": {"event": "cart"}, "then_not": {"event": "buy"}, "within": "30m", "in_last": "3h"}]},
    {"rules": [{"did": {"event": "cart"}, "then_not": {"event": "buy"}, "within": "1h"}]},
    {"rules": [{"not_seen_for": "90m"}]},
    {"rules": [{"seen_within": "20m"}, {"attribute": "country", "is": ["DE", "AT"]}]},
    {"rules": [{"attribute": "device_type", "is": "mobile"}, {"count": {"event": "buy"}, "at_least": 1}]},
]  # fmt: skip


def _events(rng: random.Random, site_id: str, person: str) -> list[Event]:
    events = []
    for _ in range(rng.randint(1, 14)):
        moment = AT - timedelta(seconds=rng.randint(0, 4 * 3600))
        events.append(
            Event(
                event_id=uuid.uuid4(), site_id=site_id, event_name=rng.choice(["view", "view", "cart", "buy", "x"]),
                event_time=moment, received_at=moment, anonymous_id=person, user_id="", url="https://shop.example/",
                referrer="", user_agent="", ip="", properties={"sku": rng.choice("abc")}, source=HitSource.BROWSER,
                visitor_id=person, country=rng.choice(["DE", "FR", "", "AT"]),
                device_type=rng.choice(["mobile", "desktop"]), is_bot=rng.random() < 0.05,
            )
        )  # fmt: skip
    return events


@pytest.mark.parametrize("number", range(len(SEGMENTS)))
def test_the_stream_membership_equals_the_sql_at_the_same_moment(clickhouse: Client, number: int) -> None:
    rng = random.Random(number)
    site_id = f"segment-sql-{uuid.uuid4().hex[:8]}"
    definition = SegmentDefinition.model_validate({"segment_id": "s", "site_id": site_id, **SEGMENTS[number]})
    segment = compile_segment(definition)
    members, rows = set(), []
    for person_number in range(120):
        person = f"p-{person_number}"
        events = _events(rng, site_id, person)
        delivered = delivered_out_of_order(rng, events)
        state = PersonSegments()
        for event in delivered:  # as the stream would, each on its arrival, then at AT
            state, _ = track_segments(state, event, [segment], event.received_at, 1000)
        state, _ = evaluate_segments(state, [segment], AT, site_id, person)
        if state.memberships.get("s") and state.memberships["s"].member:
            members.add(person)
        rows += [tuple(getattr(event, column) for column in EVENTS_TABLE.columns) for event in events]
    clickhouse.insert(EVENTS_TABLE.table, rows, column_names=list(EVENTS_TABLE.columns))

    in_sql = {person for (person,) in clickhouse.query(segment_members_sql(definition, AT)).result_rows}
    assert members == in_sql
    assert 0 < len(members) < 120, "the rule tells people apart"
