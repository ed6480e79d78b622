"""The visitor stage: identity, dedup, sessions, bot flags and sweeping, on canonical events (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.events import NO_SESSION, Event, HitSource
from schemas.stream_records import IdentityKind
from stream_processors.visitors.track_event import TrackedEvent, TrackingRules, track_event
from stream_processors.visitors.visitor_state import VisitorState, decode_visitor_state, encode_visitor_state, swept

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RULES = TrackingRules()


def _event(minute: float, name: str = "page_view", *, user_id: str = "", **properties: str) -> Event:
    moment = START + timedelta(minutes=minute)
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id="a-1", user_id=user_id, url=f"https://shop.example/{name}", referrer="", user_agent="",
        ip="", properties=properties, source=HitSource.BROWSER,
    )  # fmt: skip


def _track(state: VisitorState | None, event: Event) -> tuple[VisitorState, TrackedEvent]:
    stream_time = int(event.received_at.timestamp() * 1000)
    state, tracked = track_event(state, event, stream_time, 3, RULES)
    return decode_visitor_state(encode_visitor_state(state)), tracked  # as the table's changelog would


def test_an_identify_links_the_visitor_and_later_events_carry_the_user() -> None:
    state, first = _track(None, _event(0))
    state, identify = _track(state, _event(1, "identify", user_id="u-7"))
    state, later = _track(state, _event(2))
    assert first.event.user_id == ""
    assert later.event.user_id == "u-7"
    [link] = identify.identities
    assert (link.identifier, link.user_id, link.kind) == ("a-1", "u-7", IdentityKind.ANONYMOUS)
    assert later.identities == ()  # a known link is not sent again
    # The session's user is the identified one, so the events before the identify count for the user too.
    assert later.sessions[-1].user_id == "u-7"


def test_an_alias_links_the_former_user_id() -> None:
    _, tracked = _track(None, _event(0, "alias", user_id="u-new", previous_id="u-old"))
    kinds = {(link.identifier, link.kind) for link in tracked.identities}
    assert ("u-old", IdentityKind.ALIAS) in kinds


def test_a_duplicate_writes_nothing() -> None:
    event = _event(0)
    state, first = _track(None, event)
    state, again = _track(state, event)
    assert not first.duplicate
    assert first.sessions
    assert again.duplicate
    assert again.sessions == ()


def test_events_join_sessions_and_email_events_do_not() -> None:
    state, view = _track(None, _event(0))
    state, email = _track(state, _event(1, "email_opened"))
    assert view.event.session_id != NO_SESSION
    assert email.event.session_id == NO_SESSION
    assert email.sessions == ()
    assert view.event.visitor_id == "a-1"


def test_a_swept_visitor_keeps_its_identity_and_its_closed_sessions() -> None:
    state, _ = _track(None, _event(0, "identify", user_id="u-7"))
    state = swept(state, RULES.sessions.idle_timeout_ms)
    assert state.sessions is None
    assert state.user_id == "u-7"
    state, late = _track(state, _event(10))  # within the closed session's reach: too late now
    assert late.event.too_late
    assert late.sessions == ()
    state, next_visit = _track(state, _event(120))
    assert next_visit.event.user_id == "u-7"
    assert not next_visit.event.too_late
    assert [row.sign for row in next_visit.sessions] == [1]


def test_an_impossible_hit_rate_flags_the_visitor_and_corrects_its_session() -> None:
    rules = TrackingRules(bot_max_events=5)
    state: VisitorState | None = None
    flagged = []
    for second in range(8):
        moment = START + timedelta(seconds=second)
        event = _event(0).model_copy(update={"event_time": moment, "received_at": moment, "event_id": uuid.uuid4()})
        state, tracked = track_event(state, event, int(moment.timestamp() * 1000), 0, rules)
        if tracked.bot is not None:
            flagged.append(tracked)
    [flag] = flagged
    assert flag.bot is not None
    assert flag.bot.reason == "high_hit_rate"
    assert flag.event.is_bot
    assert all(row.is_bot for row in flag.sessions if row.sign == 1)


def test_a_page_pings_engaged_time_is_a_number_of_ms_up_to_an_hour_and_anything_else_counts_nothing() -> None:
    engaged = {}
    for text in ("15000", "1500.9", "-5", "7200000", "inf", "1e400", "nan", "soon"):
        _, tracked = _track(None, _event(0, "page_ping", engaged_ms=text))
        [row] = [row for row in tracked.sessions if row.sign == 1]
        engaged[text] = row.engaged_ms
    assert engaged == {"15000": 15_000, "1500.9": 1_500, "-5": 0, "7200000": 3_600_000, "inf": 0, "1e400": 0,
                       "nan": 0, "soon": 0}  # fmt: skip
