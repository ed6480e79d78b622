"""Sessionization, one situation at a time: each test delivers a few events and reads the rows and assignments
the stream worker would send, then checks the collapsed table against the reference."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import uuid5
from zoneinfo import ZoneInfo

import pytest

from schemas.sessions import EventAssignment, SessionChanges, SessionEvent, SessionRules
from stream_processors.sessionize import apply_event, evict, flag_visitor_as_bot, hit_rate_exceeded
from stream_processors.sessionize.session_ids import SESSION_NAMESPACE
from tests.unit.test_sessionize_harness import MINUTE, SITE, VISITOR, Sessionizer, at, event


def id_named_after(event_id: str, suffix: str = "") -> str:
    return str(uuid5(SESSION_NAMESPACE, f"{SITE}:{VISITOR}:{event_id}{suffix}"))


def late(
    event_id: str, minutes: float, received_minutes: float, name: str = "page_view", **fields: Any
) -> SessionEvent:
    """An event that happened at ``minutes`` and was received at ``received_minutes``."""
    return event(event_id, minutes, name, received_at_ms=at(received_minutes), **fields)


def test_an_in_order_session_is_corrected_one_version_at_a_time() -> None:
    run = Sessionizer()
    first = run.deliver(event("a", 0, referrer="https://news.example/", channel="referral"))
    ping = run.deliver(event("b", 1, "page_ping", engaged_ms=4_000))
    last = run.deliver(event("c", 2, user_id="u-42"))

    session_id = id_named_after("a")
    assert [row.version for row in first.rows] == [1]
    assert [(row.version, row.sign) for row in ping.rows] == [(1, -1), (2, 1)]
    assert ping.rows[0] == first.rows[0]._replace(sign=-1)
    row = last.rows[-1]
    assert (row.session_id, row.version, row.events, row.page_views) == (session_id, 3, 3, 2)
    assert (row.entry_url, row.exit_url) == ("https://shop.example/a", "https://shop.example/c")
    assert (row.referrer, row.channel, row.user_id) == ("https://news.example/", "referral", "u-42")
    assert (row.start_time_ms, row.end_time_ms, row.duration_ms, row.engaged_ms) == (at(0), at(2), 2 * MINUTE, 4_000)
    assert not row.is_bounce  # two page views
    assert last.assignments == (EventAssignment("c", session_id),)
    assert last.session_id_of_event == session_id
    assert run.table.sessions() == run.reference()


def test_a_single_page_view_is_a_bounce_unless_engaged_or_converted() -> None:
    run = Sessionizer()
    run.deliver(event("a", 0))
    run.deliver(event("b", 1, "page_ping", engaged_ms=9_999))
    assert run.state().live_rows()[0].is_bounce
    run.deliver(event("c", 2, "page_ping", engaged_ms=1))
    assert not run.state().live_rows()[0].is_bounce
    other = Sessionizer()
    other.deliver(event("a", 0))
    other.deliver(event("b", 1, "purchase", is_conversion=True))
    assert not other.state().live_rows()[0].is_bounce


def test_more_than_the_idle_timeout_between_events_starts_a_new_session() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 30), event("c", 60.001)])
    rows = run.state().live_rows()
    assert [row.events for row in rows] == [2, 1]  # exactly 30 min apart: still the same session
    assert [row.session_id for row in rows] == [id_named_after("a"), id_named_after("c")]
    assert run.table.sessions() == run.reference()


def test_a_late_event_that_bridges_two_sessions_merges_them_into_the_earlier() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 10), event("c", 50), event("d", 60)])
    earlier, later = (row.session_id for row in run.state().live_rows())
    before = {row.session_id: row for row in run.state().live_rows()}

    changes = run.deliver(late("x", 30, received_minutes=61))

    assert [(row.session_id, row.sign) for row in changes.rows] == [(earlier, -1), (later, -1), (earlier, 1)]
    assert changes.rows[1] == before[later]._replace(sign=-1)
    assert changes.rows[2].events == 5
    assert changes.rows[2].version == 3  # versions 1 and 2 were written for a, then b
    assert set(changes.assignments) == {
        EventAssignment("x", earlier),
        EventAssignment("c", earlier),
        EventAssignment("d", earlier),
    }
    assert changes.assignments[0] == EventAssignment("x", earlier)
    assert list(run.table.live) == [earlier]
    assert run.table.sessions() == run.reference()


def test_a_late_event_before_the_first_changes_the_entry_page_and_keeps_the_id() -> None:
    run = Sessionizer()
    run.deliver_all([event("b", 10), event("c", 20)])
    [session_id] = run.table.live

    changes = run.deliver(late("a", 5, received_minutes=21, referrer="https://search.example/", channel="organic"))

    assert [(row.session_id, row.version, row.sign) for row in changes.rows] == [
        (session_id, 2, -1),
        (session_id, 3, 1),
    ]
    row = changes.rows[-1]
    assert (row.entry_url, row.start_time_ms, row.referrer, row.channel) == (
        "https://shop.example/a",
        at(5),
        "https://search.example/",
        "organic",
    )
    assert changes.assignments == (EventAssignment("a", session_id),)
    assert run.table.sessions() == run.reference()


def test_a_late_campaign_landing_splits_a_session_and_the_later_part_gets_a_new_id() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 10), event("c", 20)])
    [session_id] = run.table.live

    changes = run.deliver(late("x", 15, received_minutes=25, utm_source="news", utm_medium="email", utm_campaign="may"))

    new_id = id_named_after("x")
    assert [(row.session_id, row.sign, row.events) for row in changes.rows] == [
        (session_id, -1, 3),
        (session_id, 1, 2),
        (new_id, 1, 2),
    ]
    assert set(changes.assignments) == {EventAssignment("x", new_id), EventAssignment("c", new_id)}
    assert changes.rows[-1].utm_campaign == "may"
    assert run.table.sessions() == run.reference()


def test_the_same_campaign_again_or_no_campaign_continues_the_session() -> None:
    run = Sessionizer()
    utm = {"utm_source": "news", "utm_medium": "email", "utm_campaign": "may"}
    run.deliver_all([event("a", 0), event("b", 1, **utm), event("c", 2), event("d", 3, **utm)])
    assert [row.events for row in run.state().live_rows()] == [1, 3]  # direct, then the campaign landing
    no_split = Sessionizer(SessionRules(split_on_campaign_change=False))
    no_split.deliver_all([event("a", 0), event("b", 1, **utm)])
    assert len(no_split.table.live) == 1


def test_midnight_in_zurich_splits_a_session_when_asked() -> None:
    zurich = ZoneInfo("Europe/Zurich")
    before = int(datetime(2026, 1, 14, 23, 50, tzinfo=zurich).timestamp() * 1000)
    events = [
        event("a", (before - at(0)) / MINUTE),
        event("b", (before - at(0)) / MINUTE + 15),  # 00:05 in Zurich, 23:05 UTC
    ]
    split = Sessionizer(SessionRules(split_at_midnight=True, time_zone="Europe/Zurich"))
    split.deliver_all(events)
    assert [row.events for row in split.state().live_rows()] == [1, 1]
    assert split.table.sessions() == split.reference()
    in_utc = Sessionizer(SessionRules(split_at_midnight=True))
    in_utc.deliver_all(events)
    assert [row.events for row in in_utc.state().live_rows()] == [2]


def test_a_session_ends_at_its_maximum_length() -> None:
    run = Sessionizer(SessionRules(max_length_ms=60 * MINUTE))
    run.deliver_all(event(f"e{minute:03d}", minute) for minute in range(0, 121, 20))
    assert [row.events for row in run.state().live_rows()] == [3, 3, 1]
    assert run.table.sessions() == run.reference()


def test_an_event_older_than_the_allowed_lateness_is_too_late_and_then_a_duplicate() -> None:
    run = Sessionizer()
    run.deliver(event("a", 100))
    too_late = late("x", 40, received_minutes=101)  # the watermark is at minute 41

    assert run.deliver(too_late) == SessionChanges(too_late=True)
    assert run.deliver(too_late) == SessionChanges(duplicate=True)
    assert run.deliver(late("y", 41, received_minutes=101)).session_id_of_event
    assert run.table.sessions() == run.reference()


def test_events_that_take_no_part_make_no_session_but_are_deduplicated() -> None:
    run = Sessionizer()
    opened = event("o", 0, "email_open")
    assert run.deliver(opened) == SessionChanges()
    assert run.deliver(opened) == SessionChanges(duplicate=True)
    run.deliver(event("a", 1))
    assert [row.events for row in run.state().live_rows()] == [1]


def test_after_eviction_a_late_but_allowed_event_starts_a_new_session() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 10)])
    run.deliver(event("other", 101, visitor_id="visitor-2"))  # stream time: minute 101, watermark: minute 41
    run.evict()
    assert not run.state().sessions  # 10 + 30 < 41: the session could not change any more
    [evicted] = [session_id for session_id, row in run.table.live.items() if row.visitor_id == VISITOR]

    changes = run.deliver(late("c", 41, received_minutes=101))

    assert changes.session_id_of_event == id_named_after("c")
    assert [row.sign for row in changes.rows] == [1]
    assert evicted in run.table.live
    assert run.deliver(late("a", 0, received_minutes=101)) == SessionChanges(duplicate=True)  # still remembered
    assert run.table.sessions() == run.reference()


def test_eviction_keeps_a_session_that_a_late_event_could_still_join() -> None:
    rules = SessionRules()
    state, _ = apply_event(None, event("a", 0), at(0), rules)
    kept = evict(state, at(90), rules)  # watermark: minute 30 = end + idle timeout, not after it
    assert kept is not None
    assert [row.events for row in kept.live_rows()] == [1]
    kept = evict(kept, at(90) + 1, rules)
    assert kept is not None
    assert not kept.sessions  # only its event id is remembered, for the allowed lateness


def test_dedup_records_outlive_the_session_by_the_allowed_lateness() -> None:
    rules = SessionRules()
    state, _ = apply_event(None, event("a", 0), at(0), rules)
    kept = evict(state, at(91), rules)
    assert kept is not None
    assert not kept.sessions
    _, changes = apply_event(kept, event("a", 0), at(91), rules)
    assert changes.duplicate
    assert evict(kept, at(91 + 60) + 1, rules) is None


def test_flagging_a_bot_corrects_its_retained_sessions_and_marks_the_next() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 60)])
    state, changes = flag_visitor_as_bot(run.state(), "hit rate")
    run.table.apply(changes)

    assert [(row.sign, row.is_bot, row.version) for row in changes.rows] == [
        (-1, False, 1),
        (-1, False, 1),
        (1, True, 2),
        (1, True, 2),
    ]
    assert flag_visitor_as_bot(state, "again")[1] == SessionChanges()
    run.deliver(event("c", 61))
    run.deliver(event("d", 200))
    assert all(row.is_bot for row in run.table.live.values())
    assert len(run.table.live) == 3


def test_an_event_from_a_known_bot_marks_its_session() -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 1, is_bot=True)])
    assert run.state().live_rows()[0].is_bot
    assert run.table.sessions() == run.reference()


def test_a_hit_rate_no_human_reaches_is_detected() -> None:
    rules = SessionRules()
    state = None
    for second in range(10):
        state, _ = apply_event(state, event(f"e{second}", second / 60), at(second / 60), rules)
    assert hit_rate_exceeded(state, event("next", 10 / 60), max_events=10, window_ms=10_000)
    assert not hit_rate_exceeded(state, event("next", 10 / 60), max_events=11, window_ms=10_000)
    assert not hit_rate_exceeded(state, event("next", 10 / 60), max_events=10, window_ms=1_000)


def test_a_session_id_is_never_given_twice() -> None:
    """f starts a session, a late x joins it before f, then a late w pushes f past the maximum length: f starts
    a session again, but its name's id still belongs to the session that now holds w and x."""
    run = Sessionizer(SessionRules(max_length_ms=60 * MINUTE, allowed_lateness_ms=120 * MINUTE))
    run.deliver_all([event("f", 60), event("g", 70)])
    run.deliver(late("x", 30, received_minutes=71))
    changes = run.deliver(late("w", 0, received_minutes=71))

    assert run.table.live[id_named_after("f")].start_time_ms == at(0)
    assert id_named_after("f", ":2") in run.table.live
    assert changes.session_id_of_event == id_named_after("f")
    assert run.table.sessions() == run.reference()


def test_a_failure_leaves_the_state_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Sessionizer()
    run.deliver_all([event("a", 0), event("b", 10)])
    before = run.state().events.copy(), run.state().sessions.copy()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("stream_processors.sessionize.visitor_sessions._recompute", broken)
    with pytest.raises(RuntimeError):
        apply_event(run.state(), late("x", 5, received_minutes=11), at(11), run.rules)
    assert (run.state().events, run.state().sessions) == before
    assert "x" not in run.state().retained_ids


def test_five_thousand_in_order_events_of_one_session_apply_fast() -> None:
    rules = SessionRules(max_length_ms=10**12)
    events = [event(f"e{index:05d}", index / 60, "page_view" if index % 3 else "page_ping") for index in range(5000)]
    state = None
    started = time.perf_counter()
    for each in events:
        state, _ = apply_event(state, each, each.received_at_ms, rules)
    elapsed = time.perf_counter() - started
    assert state is not None
    assert len(state.sessions) == 1
    assert state.live_rows()[0].events == 5000
    assert elapsed < 0.5, f"{elapsed:.3f} s"


def test_a_lower_stream_time_after_a_restart_does_not_reopen_what_was_evicted() -> None:
    rules = SessionRules()
    state, _ = apply_event(None, event("a", 0), at(0), rules)
    state, _ = apply_event(state, event("b", 150), at(150), rules)
    kept = evict(state, at(150), rules)  # watermark: minute 90; the session of a is forgotten
    assert kept is not None
    assert [row.events for row in kept.live_rows()] == [1]
    # A restarted worker that has only seen older receipts computes a watermark of minute 0 ...
    _, changes = apply_event(kept, event("c", 20, received_at_ms=at(60)), at(60), rules)
    assert changes == SessionChanges(too_late=True)  # ... but minute 20 stays closed: it would join a's session


def test_an_event_received_late_is_remembered_for_the_allowed_lateness_after_it_was_received() -> None:
    rules = SessionRules(idle_timeout_ms=10 * MINUTE)
    state, _ = apply_event(None, event("a", 0, received_at_ms=at(50)), at(50), rules)
    state = evict(state, at(71), rules)  # watermark: minute 11, after a's session could change (0 + 10)
    assert state is not None
    assert not state.sessions
    state = evict(state, at(100), rules)  # watermark: minute 40, but a was received at minute 50
    assert state is not None
    _, changes = apply_event(state, event("a", 0, received_at_ms=at(100)), at(100), rules)
    assert changes == SessionChanges(duplicate=True)
    assert evict(state, at(132), rules) is None
