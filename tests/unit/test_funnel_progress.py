"""Funnels in the stream (pure): definitions, step matching, and progress that ends where windowFunnel over all
of a person's events ends, whatever the delivery order and however many duplicates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event, HitSource
from schemas.funnels import FunnelDefinition, InvalidFunnelError, funnel_yaml, read_funnel_definition
from stream_processors.funnels.funnel_sql import furthest_steps_sql
from stream_processors.funnels.funnel_steps import compile_funnel
from stream_processors.funnels.window_funnel import furthest_step
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.visitors.track_event import milliseconds

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHECKOUT = """
funnel_id: checkout
site_id: shop
name: Checkout
window: 30m
steps:
  - name: Product
    event: page_view
    where:
      url: {contains: /product/}
  - name: Cart
    event: [add_to_cart, cart_viewed]
  - name: Purchase
    event: purchase
    where:
      properties.currency: EUR
"""


def _event(minute: float, name: str, url: str = "https://shop.example/", *, user: str = "", **props: str) -> Event:
    moment = START + timedelta(minutes=minute)
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id="a-1", user_id=user, url=url, referrer="", user_agent="", ip="", properties=props,
        source=HitSource.BROWSER, visitor_id="a-1",
    )  # fmt: skip


def _run(definition: FunnelDefinition, events: list[Event], max_entries: int = 256) -> tuple[PersonState, list]:
    funnel = compile_funnel(definition)
    state, transitions = PersonState(), []
    for event in events:
        changes = track_person(state, event, PersonRules((funnel,), max_entries), NOW)
        state = decode_person_state(encode_person_state(changes.state))  # as the table's changelog would
        transitions += changes.funnel_transitions
    return state, transitions


def test_a_definition_reads_from_yaml_and_round_trips() -> None:
    funnel = read_funnel_definition(CHECKOUT)
    assert funnel.window_ms == 30 * 60_000
    assert funnel.steps[1].event == ("add_to_cart", "cart_viewed")
    assert read_funnel_definition(funnel_yaml(funnel)) == funnel
    assert read_funnel_definition(funnel_yaml(funnel)).version == funnel.version


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("window: 30m", "window: soon"),
        ("event: purchase", "event: []"),
        ("properties.currency: EUR", "colour: EUR"),
        ("funnel_id: checkout", "funnel_id: Check Out"),
    ],
)
def test_a_bad_definition_is_refused_with_its_field(change: str, message: str) -> None:
    with pytest.raises(InvalidFunnelError) as refused:
        read_funnel_definition(CHECKOUT.replace(change, message), "checkout.yaml")
    assert str(refused.value).startswith("checkout.yaml: ")


def test_steps_match_event_names_and_conditions() -> None:
    funnel = compile_funnel(read_funnel_definition(CHECKOUT))
    assert funnel.matching_steps(_event(0, "page_view", "https://shop.example/product/7")) == [1]
    assert funnel.matching_steps(_event(0, "page_view", "https://shop.example/about")) == []
    assert funnel.matching_steps(_event(0, "cart_viewed")) == [2]
    assert funnel.matching_steps(_event(0, "purchase", currency="EUR")) == [3]
    assert funnel.matching_steps(_event(0, "purchase", currency="USD")) == []


def test_transitions_follow_the_furthest_step_and_a_duplicate_changes_nothing() -> None:
    product = _event(0, "page_view", "https://shop.example/product/7")
    cart = _event(5, "add_to_cart")
    purchase = _event(9, "purchase", currency="EUR")
    state, transitions = _run(read_funnel_definition(CHECKOUT), [product, cart, cart, purchase, product])
    assert [(t.from_step, t.to_step, t.step_name, t.sequence) for t in transitions] == [
        (0, 1, "Product", 1),
        (1, 2, "Cart", 2),
        (2, 3, "Purchase", 3),
    ]
    assert transitions[2].reached_at == purchase.event_time
    assert state.funnels["checkout"].step == 3


def test_a_late_event_completes_the_funnel_and_the_window_is_kept() -> None:
    definition = read_funnel_definition(CHECKOUT)
    product, late_cart = _event(0, "page_view", "https://x/product/1"), _event(5, "add_to_cart")
    _, transitions = _run(definition, [product, _event(9, "purchase", currency="EUR"), late_cart])
    assert [(t.to_step, t.event_id) for t in transitions] == [(1, product.event_id), (3, late_cart.event_id)]
    _, too_slow = _run(definition, [product, late_cart, _event(31, "purchase", currency="EUR")])
    assert [t.to_step for t in too_slow] == [1, 2]


def test_a_late_event_between_two_steps_of_a_strict_funnel_takes_the_step_back() -> None:
    strict = read_funnel_definition(CHECKOUT + "order: strict\n")
    product, cart, search = _event(0, "page_view", "https://x/product/1"), _event(5, "add_to_cart"), _event(2, "q")
    _, transitions = _run(strict, [product, cart, search])
    assert [(t.from_step, t.to_step) for t in transitions] == [(0, 1), (1, 2), (2, 1)]


def test_two_late_steps_inside_a_run_of_other_events_of_a_strict_funnel_see_the_event_between_them() -> None:
    strict = read_funnel_definition(CHECKOUT + "order: strict\n")
    others = [_event(minute, "search") for minute in range(1, 6)]
    product, cart = _event(2.5, "page_view", "https://x/product/1"), _event(3.5, "add_to_cart")
    state, _ = _run(strict, [*others, product, cart])
    assert state.funnels["checkout"].step == 1  # the search at minute 3 ends the chain


def test_a_funnel_sees_neither_page_pings_nor_bots_and_counts_for_the_user_when_known() -> None:
    strict = read_funnel_definition(CHECKOUT + "order: strict\n")
    ping = _event(1, "page_ping")
    bot = _event(1, "add_to_cart").model_copy(update={"is_bot": True})
    product, cart = _event(0, "page_view", "https://x/product/1", user="u-1"), _event(2, "add_to_cart", user="u-1")
    _, transitions = _run(strict, [product, ping, bot, cart])
    assert [(t.person_id, t.to_step) for t in transitions] == [("u-1", 1), ("u-1", 2)]


def test_the_sql_names_the_same_steps() -> None:
    sql = furthest_steps_sql(read_funnel_definition(CHECKOUT + "order: strict\n"))
    assert "windowFunnel(1800000, 'strict_order')" in sql
    assert "position(url, '/product/') > 0" in sql
    assert "event_name IN ('add_to_cart', 'cart_viewed')" in sql
    assert "properties['currency'] = 'EUR'" in sql


REFUNDS = """
exclusions:
  - event: refund_requested
  - event: page_view
    where:
      url: {contains: /compare/}
"""


def test_an_exclusion_ends_the_attempt_and_the_person_may_start_again() -> None:
    definition = read_funnel_definition(CHECKOUT + REFUNDS)
    product, cart = _event(0, "page_view", "https://x/product/1"), _event(5, "add_to_cart")
    refund, again = _event(8, "refund_requested"), _event(9, "page_view", "https://x/product/2")
    state, transitions = _run(definition, [product, cart, refund, refund, again])
    assert [(t.from_step, t.to_step, t.step_name) for t in transitions] == [(0, 1, "Product"), (1, 2, "Cart"),
                                                                             (2, 0, ""), (0, 1, "Product")]  # fmt: skip
    assert transitions[2].reached_at == refund.event_time  # (step 0: when the attempt ended)
    assert state.funnels["checkout"].excluded_ms == milliseconds(refund.event_time)


def test_a_late_exclusion_takes_back_the_steps_before_it_and_a_late_step_before_it_counts_for_nothing() -> None:
    definition = read_funnel_definition(CHECKOUT + REFUNDS)
    product, cart = _event(0, "page_view", "https://x/product/1"), _event(5, "add_to_cart")
    purchase = _event(7, "purchase", currency="EUR")
    late_refund = _event(6, "refund_requested")
    _, transitions = _run(definition, [product, cart, late_refund, product, _event(1, "add_to_cart")])
    assert [(t.from_step, t.to_step, t.event_id) for t in transitions] == [
        (0, 1, product.event_id), (1, 2, cart.event_id), (2, 0, late_refund.event_id),
    ]  # fmt: skip
    state, _ = _run(definition, [late_refund, product, cart, purchase])
    assert state.funnels["checkout"].excluded_ms == milliseconds(late_refund.event_time)  # (remembered at step 0)
    assert state.funnels["checkout"].step == 0


def test_an_event_matching_an_exclusion_is_no_step_and_neither_is_one_of_the_same_millisecond() -> None:
    definition = read_funnel_definition(CHECKOUT + REFUNDS)
    comparing = _event(0, "page_view", "https://x/compare/product/1")  # a step's url, and an exclusion's
    assert compile_funnel(definition).matching_steps(comparing) == [1]
    assert compile_funnel(definition).excludes(comparing)
    state, transitions = _run(definition, [comparing, _event(0, "page_view", "https://x/product/1")])
    assert transitions == []
    assert state.funnels["checkout"].step == 0


def test_at_the_entry_bound_a_later_exclusion_lets_the_floor_go() -> None:
    definition = read_funnel_definition(CHECKOUT + REFUNDS)
    product, cart = _event(0, "page_view", "https://x/product/1"), _event(1, "add_to_cart")
    views = [_event(2 + minute, "page_view", "https://x/product/2") for minute in range(10)]
    state, _ = _run(definition, [product, cart, *views], max_entries=8)
    assert (state.funnels["checkout"].step, state.funnels["checkout"].settled_step) == (2, 2)
    state, transitions = _run(definition, [product, cart, *views, _event(30, "refund_requested")], max_entries=8)
    assert (state.funnels["checkout"].step, state.funnels["checkout"].entries) == (0, ())
    assert transitions[-1].to_step == 0


def test_exclusions_are_part_of_the_version_and_of_the_yaml_only_when_there_are_some() -> None:
    plain, refunds = read_funnel_definition(CHECKOUT), read_funnel_definition(CHECKOUT + REFUNDS)
    assert plain.version == "287ca0bbfdd6"  # as before exclusions existed: nobody's progress starts over
    assert "exclusions" not in funnel_yaml(plain)
    assert read_funnel_definition(funnel_yaml(refunds)) == refunds
    assert "- event: refund_requested" in funnel_yaml(refunds)
    other = read_funnel_definition(CHECKOUT + REFUNDS.replace("/compare/", "/versus/"))
    assert len({plain.version, refunds.version, other.version}) == 3


def test_the_sql_counts_only_the_events_after_each_person_s_latest_exclusion() -> None:
    sql = furthest_steps_sql(read_funnel_definition(CHECKOUT + REFUNDS))
    assert "toNullable(max(event_time)) AS excluded_at" in sql
    assert "WHERE (event_name = 'refund_requested')\n       OR (event_name = 'page_view' AND position(url, " in sql
    assert "(excluded_at IS NULL OR event_time > excluded_at)" in sql
    assert "excluded_at" not in furthest_steps_sql(read_funnel_definition(CHECKOUT))


def test_the_analyst_guide_shows_the_sql_the_cli_prints_for_its_example() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analysts.md").read_text()
    start = guide.index("funnel_id: checkout")
    example = read_funnel_definition(guide[start : guide.index("```", start)])
    assert example.exclusions
    assert furthest_steps_sql(example) + ";" in guide


NAMES = ["a", "b", "c", "x", "y", "z"]  # (y and z match no step)
event_rows = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(NAMES)), max_size=14)
EXCLUSIONS = [[], [{"event": "z"}], [{"event": "x"}], [{"event": ["y", "z"]}, {"event": "c"}]]  # x, c: steps too


@settings(max_examples=400, deadline=None)
@given(
    rows=event_rows,
    order=st.sampled_from(["sequential", "strict"]),
    window=st.sampled_from(["1m", "5m", "20m"]),
    exclusions=st.sampled_from(EXCLUSIONS),
    data=st.data(),
)
def test_any_delivery_order_with_duplicates_ends_at_window_funnel_over_the_events_after_the_last_exclusion(
    rows: list[tuple[int, str]], order: str, window: str, exclusions: list[dict[str, str]], data: st.DataObject
) -> None:
    definition = FunnelDefinition.model_validate(
        {"funnel_id": "f", "site_id": "shop", "window": window, "order": order, "exclusions": exclusions,
         "steps": [{"name": "A", "event": "a"}, {"name": "B", "event": ["b", "x"]}, {"name": "C", "event": "c"}]}
    )  # fmt: skip
    events = [_event(minute, name) for minute, name in rows]
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    deliveries = data.draw(st.permutations(events + duplicates))
    state, transitions = _run(definition, deliveries, max_entries=64)

    expected = _window_funnel_after_the_last_exclusion(definition, events)
    progress = state.funnels.get("f")
    assert (progress.step if progress else 0) == expected
    steps = [0] + [t.to_step for t in transitions]
    assert all(t.from_step == steps[n] and t.sequence == n + 1 for n, t in enumerate(transitions))
    assert steps[-1] == expected


def _window_funnel_after_the_last_exclusion(definition: FunnelDefinition, events: list[Event]) -> int:
    """The reference: windowFunnel over the events strictly after the latest one matching an exclusion."""
    funnel = compile_funnel(definition)
    excluded_ms = max((milliseconds(event.event_time) for event in events if funnel.excludes(event)), default=-1)
    entries = sorted(
        (milliseconds(event.event_time), step, event.event_id.hex)
        for event in events
        if milliseconds(event.event_time) > excluded_ms
        for step in (funnel.matching_steps(event) or ([0] if funnel.strict else []))
    )
    return furthest_step(entries, 3, funnel.window_ms, strict=funnel.strict).step
