"""The stream's funnel step equals ClickHouse's own ``windowFunnel``, asked over its HTTP interface, on thousands
of random event sequences: ties, events matching several steps, windows of zero, strict order. And a funnel with
exclusions, kept by the stream from events delivered in any order and twice, equals its SQL over the stored
events (``funnel_sql.py``: windowFunnel over each person's events after their latest exclusion)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from schemas.events import Event, HitSource
from schemas.funnels import FunnelDefinition
from schemas.warehouse_rows import EVENTS_TABLE
from stream_processors.funnels.funnel_sql import furthest_steps_sql
from stream_processors.funnels.funnel_steps import compile_funnel
from stream_processors.funnels.window_funnel import StepEntry, furthest_step
from stream_processors.people.person_state import PersonState
from stream_processors.people.track_person import PersonRules, track_person
from tests.support.deliveries import delivered_out_of_order

CASES_PER_QUERY = 400

Row = tuple[int, frozenset[int]]  # an event: its time, and the steps it matches


def _random_case(rng: random.Random, steps: int) -> list[Row]:
    length = rng.randint(0, 12)
    span = rng.choice([3, 10, 40])
    return [
        (rng.randint(0, span), frozenset(s for s in range(1, steps + 1) if rng.random() < 0.3)) for _ in range(length)
    ]


def _entries(rows: list[Row], strict: bool) -> list[StepEntry]:
    entries = [(time, step, str(number)) for number, (time, matched) in enumerate(rows) for step in matched]
    if strict:
        entries += [(time, 0, str(number)) for number, (time, matched) in enumerate(rows) if not matched]
    return sorted(entries, key=lambda entry: entry[:2])


@pytest.mark.parametrize("strict", [False, True], ids=["sequential", "strict"])
@pytest.mark.parametrize("steps", [1, 2, 3, 5])
@pytest.mark.parametrize("window", [0, 4, 25])
def test_furthest_step_equals_window_funnel(clickhouse: Client, steps: int, window: int, strict: bool) -> None:
    rng = random.Random(f"{steps}-{window}-{strict}")
    cases = [_random_case(rng, steps) for _ in range(CASES_PER_QUERY)]
    rows = [
        f"({case_number}, {time}, [{','.join(map(str, sorted(matched)))}])"
        for case_number, case in enumerate(cases)
        for time, matched in case
    ]
    conditions = ", ".join(f"has(m, {step})" for step in range(1, steps + 1))
    mode = ", 'strict_order'" if strict else ""
    query = f"""
        SELECT c, windowFunnel({window}{mode})(t, {conditions})
        FROM values('c UInt32, t UInt64, m Array(UInt8)', {", ".join(rows)})
        GROUP BY c"""
    clickhouse_steps = dict(clickhouse.query(query).result_rows)

    for case_number, case in enumerate(cases):
        ours = furthest_step(_entries(case, strict), steps, window, strict=strict).step
        assert ours == clickhouse_steps.get(case_number, 0), (case, ours, clickhouse_steps.get(case_number, 0))


AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EXCLUDING_FUNNEL = {
    "window": "10m",
    "steps": [{"name": "A", "event": "a"},
              {"name": "B", "event": ["b", "x"], "where": {"properties.k": ["1", "2"]}},
              {"name": "C", "event": "c"}],
    "exclusions": [{"event": "x"}, {"event": "b", "where": {"properties.k": "2"}}],
}  # fmt: skip


def _person_events(rng: random.Random, site_id: str, person: str) -> list[Event]:
    """Minutes apart or tied, with exclusions that are also steps' names, page pings and bots among them."""
    events = []
    for _ in range(rng.randint(1, 14)):
        moment = AT + timedelta(minutes=rng.randint(0, 40))
        events.append(
            Event(
                event_id=uuid.uuid4(), site_id=site_id,
                event_name=rng.choice(["a", "a", "b", "b", "c", "c", "x", "y", "page_ping"]),
                event_time=moment, received_at=moment, anonymous_id=person, user_id="", url="https://shop.example/",
                referrer="", user_agent="", ip="", properties={"k": rng.choice("123")}, source=HitSource.BROWSER,
                visitor_id=person, is_bot=rng.random() < 0.05,
            )
        )  # fmt: skip
    return events


@pytest.mark.parametrize("order", ["sequential", "strict"])
def test_a_funnel_with_exclusions_in_the_stream_equals_its_sql(clickhouse: Client, order: str) -> None:
    rng = random.Random(order)
    site_id = f"funnel-sql-{uuid.uuid4().hex[:8]}"
    definition = FunnelDefinition.model_validate({"funnel_id": "f", "site_id": site_id, "order": order,
                                                  **EXCLUDING_FUNNEL})  # fmt: skip
    rules = PersonRules((compile_funnel(definition),))
    in_stream, rows = {}, []
    for person_number in range(200):
        person = f"p-{person_number}"
        events = _person_events(rng, site_id, person)
        delivered = delivered_out_of_order(rng, events)
        state = PersonState()
        for event in delivered:
            state = track_person(state, event, rules, event.received_at).state
        if (progress := state.funnels.get("f")) and progress.step:
            in_stream[person] = progress.step
        rows += [tuple(getattr(event, column) for column in EVENTS_TABLE.columns) for event in events]
    clickhouse.insert(EVENTS_TABLE.table, rows, column_names=list(EVENTS_TABLE.columns))

    assert dict(clickhouse.query(furthest_steps_sql(definition)).result_rows) == in_stream
    without_exclusions = definition.model_copy(update={"exclusions": ()})
    ignoring = dict(clickhouse.query(furthest_steps_sql(without_exclusions)).result_rows)
    assert sum(ignoring.get(person, 0) > step for person, step in in_stream.items()) >= 10, "exclusions matter"
    assert len(set(in_stream.values())) == 3, "the people reach every step"
