"""Customer profiles in the stream (pure): whatever the delivery order and however many re-deliveries within the
dedup period, a person's profile ends equal to the figures computed over their distinct events, as SQL does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runtime.definitions import DefinitionFolder
from schemas.events import NO_SESSION, Channel, Event, HitSource
from schemas.journeys import default_journey
from schemas.profiles import CustomerProfile, RfmThresholds, average_order_value, revenue_of, rfm_segment
from schemas.segments import read_segment_definition
from stream_processors.funnels.funnel_progress import FunnelProgress
from stream_processors.journeys.journey_progress import compile_journey
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.profiles.idle_profiles import IdleProfiles
from stream_processors.profiles.profile_state import ProfileState
from stream_processors.profiles.track_profile import (
    HOUR_MS,
    ProfileRules,
    profile_in_segments,
    sweep_profile,
    track_profile,
)
from stream_processors.segments.segment_rules import compile_segment
from stream_processors.segments.segment_tracking import evaluate_segments
from stream_processors.visitors.track_event import milliseconds

JOURNEY = compile_journey(default_journey("shop"))
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SESSIONS = [uuid.UUID(int=number) for number in (11, 12, 13)]
NAMES = [
    "page_view", "page_view", "screen_view", "page_ping", "add_to_cart", "identify", "email_sent", "email_opened",
    "email_clicked", "chat_conversation_started", "chat_message_sent", "Order Completed", "purchase",
    "order_completed",
]  # fmt: skip
REVENUES = ["59.9", "120", "-5.5", "1e3", "", "12.3456789", "abc"]


def _event(
    minute: float, name: str, *, session: uuid.UUID = NO_SESSION, revenue: str | None = None, anonymous: str = "a-1",
    user: str = "u-1", channel: Channel = Channel.DIRECT, bot: bool = False, campaign: str = "",
) -> Event:  # fmt: skip
    moment = START + timedelta(minutes=minute)
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id=anonymous, user_id=user, url="https://shop.example/", referrer="", user_agent="", ip="",
        properties={"revenue": revenue} if revenue is not None else {}, source=HitSource.BROWSER,
        visitor_id=anonymous or user, session_id=session, channel=channel, is_bot=bot, utm_campaign=campaign,
    )  # fmt: skip


events = st.builds(
    _event,
    st.integers(0, 600).map(float),
    st.sampled_from(NAMES),
    session=st.sampled_from([NO_SESSION, *SESSIONS]),
    revenue=st.one_of(st.none(), st.sampled_from(REVENUES)),
    anonymous=st.sampled_from(["", "a-1", "a-2", "a-3"]),
    channel=st.sampled_from([Channel.DIRECT, Channel.SEARCH, Channel.EMAIL]),
    bot=st.sampled_from([False, False, False, True]),
    campaign=st.sampled_from(["", "autumn"]),
)


def reference(distinct: list[Event]) -> dict[str, object]:
    """The profile as SQL over the person's stored events computes it (profile_sql.py), in plain Python."""
    mine = [event for event in distinct if event.event_name != "page_ping" and not event.is_bot]
    purchases = [
        (event, revenue_of(event.properties.get("revenue", "")))
        for event in mine
        if event.event_name in {"purchase", "order_completed", "Order Completed"}
    ]
    bought = [(event, revenue) for event, revenue in purchases if revenue is not None]
    visits = [event for event in mine if event.session_id != NO_SESSION]
    first_visit = min(visits, key=lambda event: (event.event_time, str(event.event_id)), default=None)
    revenue = sum((revenue for _, revenue in bought), Decimal(0))
    return {
        "anonymous_ids": sorted({event.anonymous_id for event in mine if event.anonymous_id}),
        "first_seen": min(event.event_time for event in mine),
        "last_seen": max(event.event_time for event in mine),
        "acquisition_channel": first_visit.channel.value if first_visit else "",
        "acquisition_utm_campaign": first_visit.utm_campaign if first_visit else "",
        "sessions": len({event.session_id for event in visits}),
        "returning": len({event.session_id for event in visits}) > 1,
        "page_views": sum(event.event_name in {"page_view", "screen_view"} for event in mine),
        "emails_sent": sum(event.event_name == "email_sent" for event in mine),
        "email_opens": sum(event.event_name == "email_opened" for event in mine),
        "email_clicks": sum(event.event_name == "email_clicked" for event in mine),
        "chat_events": sum(event.event_name.startswith("chat_") for event in mine),
        "chat_conversations": sum(event.event_name == "chat_conversation_started" for event in mine),
        "purchases": len(bought),
        "revenue": revenue,
        "average_order_value": average_order_value(revenue, len(bought)),
        "first_purchase_at": min((event.event_time for event, _ in bought), default=None),
        "last_purchase_at": max((event.event_time for event, _ in bought), default=None),
    }


def compared(profile: CustomerProfile) -> dict[str, object]:
    figures = profile.model_dump(include=set(reference_keys()))
    figures["anonymous_ids"] = sorted(profile.anonymous_ids)
    return figures


def reference_keys() -> list[str]:
    return list(reference([_event(0, "page_view")]))


def _run(
    deliveries: list[Event], rules: PersonRules | None = None, gaps_ms: list[int] | None = None
) -> tuple[PersonState, list[CustomerProfile]]:
    """Feed the events as the agent does (state through its codec); the stream time only moves forward."""
    state, versions, stream_time = PersonState(), [], 0
    for index, event in enumerate(deliveries):
        stream_time = max(stream_time, milliseconds(event.received_at)) + (gaps_ms[index] if gaps_ms else 0)
        changes = track_person(state, event, rules or PersonRules(), NOW, stream_time, partition=3)
        if changes.profile is not None:
            versions.append(changes.profile)
        state = decode_person_state(encode_person_state(changes.state))
    return state, versions


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=30), st.randoms(use_true_random=False), st.data())
def test_a_profile_ends_as_sql_over_the_distinct_events_in_any_order_with_duplicates(
    distinct: list[Event], rng: object, data: st.DataObject
) -> None:
    repeated = data.draw(st.lists(st.sampled_from(distinct), max_size=15))
    deliveries = distinct + repeated
    rng.shuffle(deliveries)  # type: ignore[attr-defined]
    state, versions = _run(deliveries, PersonRules(journey=JOURNEY))
    counted = [event for event in distinct if event.event_name != "page_ping" and not event.is_bot]
    if not counted:
        assert state.profile is None
        assert versions == []
        return
    assert compared(versions[-1]) == reference(distinct)
    stage = state.journey.stage if state.journey is not None else 0
    assert versions[-1].journey_stage == (JOURNEY.stage_names[stage - 1] if stage else "")
    assert [profile.version for profile in versions] == list(range(1, len(versions) + 1))
    assert len(versions) <= len(counted), "a version only for an event that changed the profile"


def test_page_pings_bots_and_duplicates_make_no_version() -> None:
    view = _event(1, "page_view", session=SESSIONS[0])
    state, versions = _run([view, _event(2, "page_ping", session=SESSIONS[0]), _event(3, "page_view", bot=True), view])
    assert [profile.page_views for profile in versions] == [1]
    assert state.profile is not None
    assert state.profile.sessions == 1


def test_a_duplicate_later_than_the_dedup_period_counts_again_which_is_the_documented_bound() -> None:
    rules = PersonRules(profiles=ProfileRules(dedup_ms=HOUR_MS))
    order = _event(1, "purchase", revenue="10", session=SESSIONS[0])
    _, within = _run([order, _event(2, "page_view"), order], rules, gaps_ms=[0, 0, HOUR_MS - 60_000])
    assert within[-1].purchases == 1
    _, beyond = _run([order, _event(2, "page_view"), order], rules, gaps_ms=[0, 0, HOUR_MS + 60_000])
    assert beyond[-1].purchases == 2


def test_the_memories_are_bounded_by_count_and_the_sweep_leaves_only_totals() -> None:
    rules = ProfileRules(max_recent=50, max_anonymous_ids=3)
    state: ProfileState | None = None
    for number in range(200):
        event = _event(number, "page_view", session=uuid.UUID(int=number + 1), anonymous=f"a-{number:03}")
        state, _ = track_profile(state, event, rules, milliseconds(event.received_at), 0, NOW)
    assert state is not None
    assert len(state.recent_ids) == 50
    assert len(state.recent_sessions) == 50
    assert list(state.anonymous_ids) == ["a-000", "a-001", "a-002"], "the earliest seen"
    assert (state.counts.page_views, state.sessions) == (200, 200)
    swept = sweep_profile(state)
    assert swept.swept
    assert not state.swept
    assert (swept.counts, swept.sessions, swept.version) == (state.counts, state.sessions, state.version)


def test_acquisition_is_the_first_visit_even_when_it_arrives_late() -> None:
    email_first = _event(0, "email_sent")  # no session: not a visit
    later = _event(30, "page_view", session=SESSIONS[1], channel=Channel.SEARCH)
    earlier = _event(10, "page_view", session=SESSIONS[0], channel=Channel.EMAIL, campaign="autumn")
    _, versions = _run([email_first, later, earlier])
    assert (versions[-1].acquisition_channel, versions[-1].acquisition_utm_campaign) == ("email", "autumn")
    assert versions[-1].first_seen == START
    assert versions[-1].returning


def test_purchases_revenue_aov_and_rfm_scores() -> None:
    orders = [_event(minute, "Order Completed", revenue=revenue) for minute, revenue in ((1, "100"), (2, "50.5"))]
    _, versions = _run([*orders, _event(3, "purchase", revenue="1e3"), _event(4, "purchase")])
    profile = versions[-1]
    assert (profile.purchases, profile.revenue, profile.average_order_value) == (2, Decimal("150.5"), Decimal("75.25"))
    assert (profile.first_purchase_at, profile.last_purchase_at) == (orders[0].event_time, orders[1].event_time)
    assert (profile.frequency_score, profile.monetary_score) == (2, 2)
    assert profile.rfm_recency_days == (30, 90, 180, 365)


def test_revenue_is_read_as_clickhouse_reads_a_decimal() -> None:
    assert revenue_of("12.3456789") == Decimal("12.345678")
    assert revenue_of("-0.0000009") == 0
    assert [revenue_of(text) for text in ("1e3", " 5", "", "5.", ".5", "NaN")] == [None] * 6
    assert average_order_value(Decimal(10), 3) == Decimal("3.333333")
    assert average_order_value(Decimal(-10), 3) == Decimal("-3.333333")


def test_rfm_scores_and_segments() -> None:
    rfm = RfmThresholds()
    assert [rfm.frequency_score(purchases) for purchases in (0, 1, 2, 3, 4, 5, 7, 8, 100)] == [
        0,
        1,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
    ]
    assert [rfm.monetary_score(1, Decimal(revenue)) for revenue in (0, 99, 100, 250, 999, 1000)] == [1, 1, 2, 3, 4, 5]
    assert [rfm.recency_score(days) for days in (0, 30, 31, 90, 180, 365, 366)] == [5, 5, 4, 4, 3, 2, 1]
    assert rfm_segment(5, 5) == "champions"
    assert rfm_segment(1, 1) == "hibernating"
    assert rfm_segment(1, 5) == "cannot_lose_them"
    assert rfm_segment(5, 1) == "new_customers"
    assert rfm_segment(0, 0) == "prospect"
    assert len({rfm_segment(r, f) for r in range(1, 6) for f in range(1, 6)}) == 10
    with pytest.raises(ValidationError):
        RfmThresholds(purchases=(2, 2, 5, 8))


def test_the_state_of_other_stages_is_untouched_by_profiles() -> None:
    state, _ = _run([_event(1, "page_view", session=SESSIONS[0])])
    assert state.funnels == {}
    assert state.profile is not None
    assert not state.empty
    assert decode_person_state(encode_person_state(state)) == state


def test_idle_people_are_swept_to_their_totals_and_their_funnels_are_left_alone() -> None:
    progress = FunnelProgress("v1", 1, 1, 0, ((0, 1, "k"),))
    table: dict[bytes, bytes] = {}
    for number, minute in enumerate((0, 100, 200)):
        event = _event(minute, "page_view", session=SESSIONS[0], user=f"u-{number}")
        changes = track_person(PersonState(), event, PersonRules(), NOW, partition=1)
        with_funnel = PersonState({"f": progress}, changes.state.email, changes.state.profile)
        table[f"shop:u-{number}".encode()] = encode_person_state(with_funnel)
    written: list[bytes] = []

    def store(partition: int, key: bytes, state: PersonState) -> None:
        written.append(key)
        table[key] = encode_person_state(state)

    def state_of(key: bytes) -> PersonState | None:
        stored = table.get(key)
        return None if stored is None else decode_person_state(stored)

    memory_ms = 90 * 60_000
    idle = IdleProfiles(state_of, lambda: table.items(), store, memory_ms)  # as after a restart
    idle.sweep(1, milliseconds(START) + 200 * 60_000)
    assert written == [b"shop:u-0", b"shop:u-1"], "idle for longer than the memory period, oldest first"
    swept = decode_person_state(table[b"shop:u-0"])
    assert swept.profile is not None
    assert swept.profile.swept
    assert swept.profile.counts.page_views == 1
    assert swept.funnels == {"f": progress}
    assert not decode_person_state(table[b"shop:u-2"]).profile.swept  # type: ignore[union-attr]
    idle.sweep(1, milliseconds(START) + 400 * 60_000)
    assert written[2:] == [b"shop:u-2"], "the swept are not swept again"


def test_a_site_may_have_its_own_rfm_thresholds(tmp_path: Path) -> None:
    folder = DefinitionFolder(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "shop.yaml").write_text("site_id: shop\nrfm:\n  purchases: [3, 6, 9, 12]\n")
    (tmp_path / "profiles" / "blog.yaml").write_text("site_id: other\n")
    (tmp_path / "profiles" / "bad.yaml").write_text("site_id: bad\nrfm:\n  revenue: [5, 1, 2, 3]\n")
    assert folder.changed()
    read = folder.read_profile_settings()
    assert list(read.by_site) == ["shop"]
    assert read.by_site["shop"].rfm.purchases == (3, 6, 9, 12)
    assert read.by_site["shop"].rfm.recency_days == RfmThresholds().recency_days
    assert len(read.problems) == 2
    assert not folder.changed()


def test_the_profile_names_the_customer_journey_stage_and_a_new_stage_is_a_new_version() -> None:
    rules = PersonRules(journey=JOURNEY)
    visit = _event(1, "page_view", session=SESSIONS[0])
    order = _event(5, "Order Completed", revenue="10", session=SESSIONS[0])
    cart = _event(3, "add_to_cart", session=SESSIONS[0])
    _, versions = _run([visit, order, cart, _event(9, "Order Completed", session=SESSIONS[0])], rules)
    assert [profile.journey_stage for profile in versions] == ["Awareness", "Purchase", "Loyalty"]
    assert versions[-1].purchases == 1, "an order without revenue is no purchase, but the journey counts it"


def test_the_profile_names_the_live_segments_the_person_is_in_whether_an_event_or_time_changed_them() -> None:
    abandoned = read_segment_definition(
        "segment_id: abandoned\nsite_id: shop\nrules:\n  - did: {event: add_to_cart}\n"
        "    then_not: {event: purchase}\n    within: 30m\n"
    )
    viewer = read_segment_definition("segment_id: viewer\nsite_id: shop\nrules:\n  - count: {event: page_view}\n")
    rules = PersonRules(segments=(compile_segment(abandoned), compile_segment(viewer)))
    entered = track_person(PersonState(), _event(0, "page_view"), rules, START)
    assert entered.profile is not None
    assert entered.profile.segments == ("viewer",), "an event that makes the person enter: in its version"
    cart = track_person(entered.state, _event(1, "add_to_cart"), rules, START + timedelta(minutes=1))
    assert cart.profile is not None
    assert cart.profile.segments == ("viewer",)

    # Time alone: 30 minutes later the cart is abandoned, as the agent's timer finds.
    later = START + timedelta(minutes=40)
    profile_state = cart.state.profile
    assert profile_state is not None
    segments, _ = evaluate_segments(cart.state.segments, rules.segments, later, "shop", "u-1")
    profile_state, version = profile_in_segments(
        profile_state, segments.member_of, "shop", "u-1", RfmThresholds(), later
    )
    assert version is not None
    assert version.segments == ("abandoned", "viewer")
    assert version.version == cart.profile.version + 1
    assert profile_in_segments(profile_state, segments.member_of, "shop", "u-1", RfmThresholds(), later)[1] is None
    state = PersonState(segments=segments, profile=profile_state)
    assert decode_person_state(encode_person_state(state)) == state

    late_purchase = _event(20, "purchase", revenue="10")  # within the 30 minutes, delivered late
    bought = track_person(state, late_purchase, rules, START + timedelta(minutes=41))
    assert bought.profile is not None
    assert bought.profile.segments == ("viewer",), "left by an event: in its version"
