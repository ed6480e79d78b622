"""Streaming sessionization equals the reference, whatever the delivery order, duplication and eviction.

Hypothesis plans a few visitors' browsing (gaps around the idle timeout, campaign landings, page pings, purchases,
identifies, email events, bots, nights across midnight and a daylight saving change), then delivers it as Kafka
would: in receipt order, each event received some time after it happened (now and then later than the allowed
lateness), some more than once, with eviction every few events and, in some runs, each state read back from its
changelog bytes after every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.sessions import HOUR_MS, MINUTE_MS, SessionEvent, SessionRules, takes_part_in_sessions
from tests.unit.test_sessionize_harness import Sessionizer

# Saturday 28 March 2026, 22:30 in Zurich: the nights that follow cross midnight and the change to summer time.
START_MS = int(datetime(2026, 3, 28, 22, 30, tzinfo=ZoneInfo("Europe/Zurich")).timestamp() * 1000)
SITES = ("shop.example", "blog.example")
DEVICES = (
    ("desktop", "Firefox", "Linux", "CH", "ZH", "Zurich"),
    ("mobile", "Safari", "iOS", "DE", "BE", "Berlin"),
    ("tablet", "Chrome", "Android", "US", "NY", "New York"),
)
CAMPAIGNS = (
    ("google", "cpc", "spring", "shoes", "ad-1"),
    ("google", "cpc", "spring", "boots", "ad-2"),
    ("newsletter", "email", "march", "", ""),
    ("partner", "", "", "", ""),
)
REFERRERS = (("", "direct"), ("https://www.google.com/", "organic"), ("https://news.example/a", "referral"))
NAMES = ("page_view", "page_view", "page_view", "page_ping", "page_ping", "click", "purchase", "identify")
EMAIL_NAMES = ("email_open", "email_click")

rules_strategy = st.builds(
    SessionRules,
    idle_timeout_ms=st.sampled_from([30 * MINUTE_MS, 10 * MINUTE_MS]),
    max_length_ms=st.sampled_from([24 * HOUR_MS, 24 * HOUR_MS, 45 * MINUTE_MS, 90 * MINUTE_MS]),
    split_on_campaign_change=st.booleans(),
    split_at_midnight=st.booleans(),
    time_zone=st.sampled_from(["Europe/Zurich", "UTC", "America/New_York"]),
    allowed_lateness_ms=st.sampled_from([HOUR_MS, HOUR_MS, 20 * MINUTE_MS]),
)


def gaps(rules: SessionRules) -> st.SearchStrategy[int]:
    idle = rules.idle_timeout_ms
    return st.one_of(
        st.integers(0, 2 * MINUTE_MS),  # reading a page
        st.integers(0, 2 * MINUTE_MS),
        st.integers(0, 8 * MINUTE_MS),
        st.sampled_from([0, idle - 1, idle, idle + 1]),  # right at the idle timeout
        st.integers(idle // 2, 2 * idle),
        st.integers(2 * HOUR_MS, 7 * HOUR_MS),  # a return visit
    )


@st.composite
def visitor_events(draw: st.DrawFn, rules: SessionRules, site_id: str, visitor_id: str) -> list[SessionEvent]:
    device = draw(st.sampled_from(DEVICES))
    user_id = ""
    time_ms = START_MS + draw(st.integers(0, 90 * MINUTE_MS))
    events: list[SessionEvent] = []
    for _ in range(draw(st.integers(1, 14))):
        time_ms += draw(gaps(rules))
        name = draw(st.sampled_from(EMAIL_NAMES) if draw(st.integers(0, 9)) == 0 else st.sampled_from(NAMES))
        fields: dict[str, Any] = {}
        if name == "page_view":
            fields["url"] = f"https://{site_id}/{draw(st.sampled_from(['', 'shoes', 'boots', 'cart']))}"
            fields["referrer"], fields["channel"] = draw(st.sampled_from(REFERRERS))
            if draw(st.integers(0, 4)) == 0:
                campaign = draw(st.sampled_from(CAMPAIGNS))
                fields.update(
                    zip(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"), campaign, strict=True)
                )
                fields["channel"] = "paid" if campaign[1] == "cpc" else "campaign"
        if name == "page_ping":
            fields["engaged_ms"] = draw(st.integers(0, 12_000))
        if name == "identify":
            user_id = draw(st.sampled_from([f"user-{visitor_id}", "user-shared"]))
        if draw(st.integers(0, 9)) == 0:
            device = draw(st.sampled_from(DEVICES))
        events.append(
            SessionEvent(
                "",
                site_id=site_id,
                visitor_id=visitor_id,
                event_time_ms=time_ms,
                event_name=name,
                user_id=user_id if draw(st.integers(0, 3)) else "",
                is_conversion=name == "purchase",
                is_bot=draw(st.integers(0, 30)) == 0,
                **dict(zip(("device_type", "browser", "os", "country", "region", "city"), device, strict=True)),
                **fields,
            )
        )
    return events


@dataclass(frozen=True)
class Scenario:
    rules: SessionRules
    deliveries: list[SessionEvent]  # in receipt order; received_at_ms is each copy's own
    evict_every: int
    round_trip: bool


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    rules = draw(rules_strategy)
    events: list[SessionEvent] = []
    for visitor in range(draw(st.integers(1, 3))):
        site_id = SITES[0] if visitor < 2 else draw(st.sampled_from(SITES))
        events.extend(draw(visitor_events(rules, site_id, f"v{visitor}")))
    # Ids in an order unrelated to time, so events at the same millisecond sort by id either way.
    order = draw(st.permutations(range(len(events))))
    events = [each._replace(event_id=f"e{order[index]:03d}") for index, each in enumerate(events)]
    lateness = rules.allowed_lateness_ms
    copies: list[tuple[int, int, SessionEvent]] = []
    for each in events:
        received = each.event_time_ms + draw(
            st.integers(0, 10_000) | st.integers(0, lateness) | st.integers(0, lateness) | st.integers(0, 3 * lateness)
        )
        for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2, 3]))):  # a client retry, a re-delivery
            copies.append((received, draw(st.integers(0, 1000)), each._replace(received_at_ms=received)))
            received += draw(st.integers(0, lateness))
    deliveries = [copy for _, _, copy in sorted(copies, key=lambda copy: copy[:2])]
    return Scenario(rules, deliveries, draw(st.integers(1, 6)), draw(st.booleans()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_streamed_sessions_equal_the_reference(scenario: Scenario) -> None:
    rules = scenario.rules
    run = Sessionizer(rules, round_trip=scenario.round_trip)
    first_seen: dict[str, int] = {}  # event id -> stream time when it was first delivered
    for count, delivered in enumerate(scenario.deliveries, start=1):
        changes = run.deliver(delivered)
        watermark = run.stream_time_ms - rules.allowed_lateness_ms
        participates = takes_part_in_sessions(delivered.event_name)
        if delivered.event_id in first_seen:
            # Remembered while its session could change, and for the allowed lateness after it was seen.
            if watermark <= max(delivered.event_time_ms + rules.idle_timeout_ms, first_seen[delivered.event_id]):
                assert changes.duplicate
            if not changes.duplicate:  # forgotten: only once it can no longer be sessionized
                assert changes.too_late or not participates
                assert not changes.rows
        else:
            assert not changes.duplicate
            assert changes.too_late == (participates and delivered.event_time_ms < watermark)
            assert bool(changes.session_id_of_event) == (participates and not changes.too_late)
            first_seen[delivered.event_id] = run.stream_time_ms
        if count % scenario.evict_every == 0:
            run.evict()
    assert run.table.sessions() == run.reference()

    for delivered in scenario.deliveries:  # everything delivered again, as after a rebalance
        changes = run.deliver(delivered)
        assert not changes.rows
        assert not changes.assignments
    assert run.table.sessions() == run.reference()


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_events_within_the_allowed_lateness_are_never_too_late(scenario: Scenario) -> None:
    rules = scenario.rules
    on_time = []
    stream_time_ms = -(2**62)
    for delivered in scenario.deliveries:
        stream_time_ms = max(stream_time_ms, delivered.received_at_ms)
        if delivered.event_time_ms >= stream_time_ms - rules.allowed_lateness_ms:
            on_time.append(delivered)
    run = Sessionizer(rules)
    for count, delivered in enumerate(on_time, start=1):
        assert not run.deliver(delivered).too_late
        if count % scenario.evict_every == 0:
            run.evict()
    assert run.table.sessions() == run.reference()
