"""The visitor stage: one enriched event and its visitor's state in; the event as stored, and what it changed
about the visitor (sessions, identity, a bot flag), out. Pure: the faust agent does the I/O.

Steps, in order: whose event it is (visitor id) -> who the visitor is (identity) -> whether it behaves like a
bot (hit rate) -> which session it joins (event-time sessionizer, which also drops duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from schemas.events import NO_SESSION, BotReason, Event
from schemas.sessions import SessionChanges, SessionEvent, SessionRow, SessionRules, takes_part_in_sessions
from schemas.stream_records import BotVisitor, EventSessionChange, IdentityLink, SessionRecord
from stream_processors.identity.identity_links import resolve_identity
from stream_processors.sessionize.visitor_sessions import apply_event, evict, flag_visitor_as_bot, hit_rate_exceeded
from stream_processors.visitors.visitor_state import VisitorState

# Events that count as a conversion for a session (not a bounce). Segment's ecommerce spec names the order.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
CONVERSION_EVENTS = frozenset({"Order Completed", "order_completed", "purchase"})


@dataclass(frozen=True)
class TrackingRules:
    sessions: SessionRules = field(default_factory=SessionRules)
    # More events than this within the window is a rate no person reaches (page pings come every 10-15 s).
    bot_max_events: int = 120
    bot_window_ms: int = 60_000


class TrackedEvent(NamedTuple):
    """What one event produced. ``duplicate``: its id was seen before, so the event is not written again."""

    event: Event
    duplicate: bool = False
    sessions: tuple[SessionRecord, ...] = ()
    session_changes: tuple[EventSessionChange, ...] = ()
    identities: tuple[IdentityLink, ...] = ()
    bot: BotVisitor | None = None


def visitor_id_of(event: Event) -> str:
    """The anonymous id (cookie), else the user id (server-side senders), else the cookieless visitor hash."""
    return event.anonymous_id or event.user_id or event.visitor_hash


def track_event(
    state: VisitorState | None, event: Event, stream_time_ms: int, partition: int, rules: TrackingRules
) -> tuple[VisitorState, TrackedEvent]:
    """Update the visitor's state with ``event``; ``stream_time_ms`` is its partition's highest receipt time.

    Updates ``state`` in place (it is the faust table's decoded copy) and returns it.
    """
    visitor_id = visitor_id_of(event)
    if state is None:
        state = VisitorState(partition=partition, last_active_ms=stream_time_ms)
    state.partition, state.last_active_ms = partition, stream_time_ms
    identity = resolve_identity(event, state.user_id)
    session_event = session_event_of(event, visitor_id, identity.user_id)
    state.max_event_time_ms = clock = max(state.max_event_time_ms, session_event.event_time_ms)
    rows, bot = _flag_if_too_fast(state, session_event, rules)
    if session_event.event_time_ms < state.closed_before_ms and takes_part_in_sessions(event.event_name):
        changes = SessionChanges(too_late=True)  # its sessions were swept: closed, as its time says
    else:
        state.sessions, changes = apply_event(state.sessions, session_event, clock, rules.sessions)
        state.sessions = evict(state.sessions, clock, rules.sessions)
    if changes.duplicate:  # (a bot flag it triggered still stands: the flag is about the whole visitor)
        return state, TrackedEvent(event, True, tuple(session_record_of(row) for row in rows), bot=bot)
    state.user_id = identity.user_id
    bot_reason = state.sessions.bot_reason if state.sessions is not None else ""
    stored = event.model_copy(
        update={
            "visitor_id": visitor_id,
            "user_id": identity.user_id,
            "session_id": UUID(changes.session_id_of_event) if changes.session_id_of_event else NO_SESSION,
            "too_late": changes.too_late,
            "is_bot": event.is_bot or bool(bot_reason),
            "bot_reason": event.bot_reason or BotReason(bot_reason),  # (model_copy does not validate)
        }
    )
    return state, TrackedEvent(
        event=stored,
        sessions=tuple(session_record_of(row) for row in (*rows, *changes.rows)),
        session_changes=_moved_events(event, changes, stream_time_ms),
        identities=identity.links,
        bot=bot,
    )


def _flag_if_too_fast(
    state: VisitorState, event: SessionEvent, rules: TrackingRules
) -> tuple[tuple[SessionRow, ...], BotVisitor | None]:
    """Flag the visitor as a bot (its open sessions are corrected) at a hit rate no person reaches."""
    sessions = state.sessions
    if sessions is None or sessions.bot_reason:
        return (), None
    if not hit_rate_exceeded(sessions, event, max_events=rules.bot_max_events, window_ms=rules.bot_window_ms):
        return (), None
    reason = BotReason.HIGH_HIT_RATE.value
    state.sessions, flagged = flag_visitor_as_bot(sessions, reason)
    flagged_at = _datetime(event.event_time_ms)
    return flagged.rows, BotVisitor(
        site_id=event.site_id, visitor_id=event.visitor_id, reason=reason, flagged_at=flagged_at
    )


def session_event_of(event: Event, visitor_id: str, user_id: str) -> SessionEvent:
    """The compact form the sessionizer keeps; a page ping's ``engaged_ms`` property is its engaged time."""
    return SessionEvent(
        event_id=str(event.event_id),
        site_id=event.site_id,
        visitor_id=visitor_id,
        event_time_ms=milliseconds(event.event_time),
        received_at_ms=milliseconds(event.received_at),
        event_name=event.event_name,
        url=event.url,
        referrer=event.referrer,
        channel=event.channel.value,
        utm_source=event.utm_source,
        utm_medium=event.utm_medium,
        utm_campaign=event.utm_campaign,
        utm_term=event.utm_term,
        utm_content=event.utm_content,
        device_type=event.device_type.value,
        browser=event.browser,
        os=event.os,
        country=event.country,
        region=event.region,
        city=event.city,
        is_bot=event.is_bot,
        user_id=user_id,
        engaged_ms=_engaged_ms(event),
        is_conversion=event.event_name in CONVERSION_EVENTS,
    )


def session_record_of(row: SessionRow) -> SessionRecord:
    fields = row._asdict()
    start_ms, end_ms = fields.pop("start_time_ms"), fields.pop("end_time_ms")
    return SessionRecord(start_time=_datetime(start_ms), end_time=_datetime(end_ms), **fields)


def _moved_events(event: Event, changes: SessionChanges, stream_time_ms: int) -> tuple[EventSessionChange, ...]:
    own = str(event.event_id)
    changed_at = _datetime(stream_time_ms)
    return tuple(
        EventSessionChange(
            site_id=event.site_id,
            event_id=UUID(moved.event_id),
            session_id=UUID(moved.session_id),
            changed_at=changed_at,
        )
        for moved in changes.assignments
        if moved.event_id != own
    )


def _engaged_ms(event: Event) -> int:
    if event.event_name != "page_ping":
        return 0
    try:
        return max(0, min(int(float(event.properties.get("engaged_ms", "0"))), 3_600_000))
    except (ValueError, OverflowError):  # not a number, or "inf" / "1e400", which a client may send as text
        return 0


def milliseconds(moment: datetime) -> int:
    """Exact (float timestamps can be off by one), and cut like ClickHouse's DateTime64(3) cuts."""
    return (moment - _EPOCH) // _MILLISECOND


def _datetime(milliseconds: int) -> datetime:
    return _EPOCH + milliseconds * _MILLISECOND
