"""The reference sessionizer on its own: each rule that starts a session, and each attribute of a session."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from schemas.sessions import SessionEvent, SessionRules, takes_part_in_sessions
from stream_processors.sessionize.reference import reference_sessions
from tests.unit.test_sessionize_harness import MINUTE, SITE, VISITOR, at, event

CAMPAIGN = {"utm_source": "news", "utm_medium": "email", "utm_campaign": "may"}


def sizes(*events: SessionEvent, rules: SessionRules | None = None) -> list[int]:
    sessions = reference_sessions(events, rules or SessionRules())
    return [session.events for session in sessions]


def test_email_events_take_no_part() -> None:
    assert not takes_part_in_sessions("email_open")
    assert not takes_part_in_sessions("email_click")
    assert takes_part_in_sessions("page_view")
    assert takes_part_in_sessions("emailed")
    assert sizes(event("a", 0), event("o", 1, "email_open")) == [1]


def test_the_idle_rule_splits_after_more_than_the_timeout() -> None:
    assert sizes(event("a", 0), event("b", 30), event("c", 60.001)) == [2, 1]


def test_the_maximum_length_counts_from_the_first_event() -> None:
    rules = SessionRules(max_length_ms=60 * MINUTE)
    assert sizes(event("a", 0), event("b", 20), event("c", 40), event("d", 60), rules=rules) == [3, 1]


def test_a_campaign_splits_unless_it_is_the_sessions_current_one() -> None:
    other = {**CAMPAIGN, "utm_campaign": "june"}
    events = [
        event("a", 0),
        event("b", 1, **CAMPAIGN),
        event("c", 2),
        event("d", 3, **CAMPAIGN),
        event("e", 4, **other),
    ]
    assert sizes(*events) == [1, 3, 1]
    assert sizes(*events, rules=SessionRules(split_on_campaign_change=False)) == [5]
    term_only = {"utm_term": "shoes"}  # not part of the campaign
    assert sizes(event("a", 0), event("b", 1, **term_only)) == [2]


def test_midnight_splits_in_the_rules_time_zone() -> None:
    zurich = ZoneInfo("Europe/Zurich")
    late_evening = int(datetime(2026, 7, 1, 23, 55, tzinfo=zurich).timestamp() * 1000)
    events = [event("a", (late_evening - at(0)) / MINUTE), event("b", (late_evening - at(0)) / MINUTE + 10)]
    assert sizes(*events, rules=SessionRules(split_at_midnight=True, time_zone="Europe/Zurich")) == [1, 1]
    assert sizes(*events, rules=SessionRules(split_at_midnight=True, time_zone="UTC")) == [2]
    assert sizes(*events) == [2]


def test_the_first_copy_counts_and_visitors_are_apart() -> None:
    first = event("a", 0, url="https://shop.example/first")
    sessions = reference_sessions(
        [first, first._replace(url="https://shop.example/copy"), event("b", 1, visitor_id="visitor-2")], SessionRules()
    )
    assert [(session.visitor_id, session.entry_url) for session in sessions] == [
        (VISITOR, "https://shop.example/first"),
        ("visitor-2", "https://shop.example/b"),
    ]


def test_events_at_the_same_time_are_ordered_by_id() -> None:
    [session] = reference_sessions([event("b", 0), event("a", 0)], SessionRules())
    assert (session.entry_url, session.exit_url) == ("https://shop.example/a", "https://shop.example/b")


def test_a_sessions_attributes() -> None:
    [session] = reference_sessions(
        [
            event("c", 3, "purchase", is_conversion=True, user_id="u-2"),
            event("a", 0, referrer="https://search.example/", channel="organic", **CAMPAIGN),
            event("b", 1, "page_ping", engaged_ms=4_000, user_id="u-1"),
            event("d", 4, "page_ping", engaged_ms=2_000, country="DE"),
        ],
        SessionRules(),
        bot_visitors={(SITE, VISITOR)},
    )
    assert session._asdict() == {
        "site_id": SITE,
        "visitor_id": VISITOR,
        "user_id": "u-2",
        "start_time_ms": at(0),
        "end_time_ms": at(4),
        "entry_url": "https://shop.example/a",
        "exit_url": "https://shop.example/a",
        "referrer": "https://search.example/",
        "channel": "organic",
        "utm_source": "news",
        "utm_medium": "email",
        "utm_campaign": "may",
        "utm_term": "",
        "utm_content": "",
        "device_type": "desktop",
        "browser": "Firefox",
        "os": "Linux",
        "country": "CH",
        "region": "ZH",
        "city": "Zurich",
        "page_views": 1,
        "events": 4,
        "duration_ms": 4 * MINUTE,
        "engaged_ms": 6_000,
        "is_bounce": False,  # a conversion
        "is_bot": True,
        "event_ids": frozenset("abcd"),
    }


def test_a_bounce() -> None:
    [bounce] = reference_sessions([event("a", 0), event("b", 1, "page_ping", engaged_ms=9_999)], SessionRules())
    assert bounce.is_bounce
    [engaged] = reference_sessions([event("a", 0), event("b", 1, "page_ping", engaged_ms=10_000)], SessionRules())
    assert not engaged.is_bounce
    [two_pages] = reference_sessions([event("a", 0), event("b", 1)], SessionRules())
    assert not two_pages.is_bounce


@pytest.mark.parametrize(
    "fields",
    [{"idle_timeout_ms": 0}, {"max_length_ms": -1}, {"allowed_lateness_ms": 0}, {"time_zone": "Mars/Olympus"}],
)
def test_rules_refuse_nonsense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SessionRules.model_validate(fields)
