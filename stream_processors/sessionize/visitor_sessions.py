"""A visitor's sessions, kept up to date one event at a time, in event time, with corrections as rows.

The state of one (site_id, visitor_id) is its retained events in time order, cut into sessions exactly as
``reference.reference_sessions`` cuts them, each with a stable id and the row last written for it. An event is
inserted where its time puts it and the sessions are recomputed from the first one it can affect: the session
holding the event just before it (the rules of ``session_boundaries`` look no further back). An event later than
all retained ones (almost every event) only extends or follows the last session, in constant time.

These functions update the state they are given **in place** and return it (copying a long session's events on
every event would make a long session quadratic). The caller must keep the returned state, never an earlier
reference, and must store it back into its table after each call. If a call raises, the state is as before.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate

from schemas.sessions import (
    EventAssignment,
    SessionChanges,
    SessionEvent,
    SessionRow,
    SessionRules,
    takes_part_in_sessions,
)
from stream_processors.sessionize.session_boundaries import starts_new_session
from stream_processors.sessionize.session_ids import new_session_id
from stream_processors.sessionize.session_summary import (
    NO_CAMPAIGN,
    OpenSession,
    RetainedEvent,
    campaign_of,
    extend,
    retain,
    summarize,
)

NO_HORIZON_MS = -(2**62)  # before any eviction: no watermark has been used yet
NOTHING_TO_FORGET_MS = 2**62

DUPLICATE = SessionChanges(duplicate=True)
TOO_LATE = SessionChanges(too_late=True)
NOT_SESSIONIZED = SessionChanges()


class VisitorSessions:
    """The sessionizer's state for one (site_id, visitor_id).

    - ``events``: the retained events that take part in sessions, in (time_ms, event_id) order.
    - ``sessions``: the partition of ``events`` into sessions, in order (``size`` consecutive events each).
    - ``seen``: event id -> the watermark up to which it is remembered, for ids seen but not retained (events
      that take no part in sessions, too-late events, events of evicted sessions); retained events' ids are
      remembered by being retained.
    - ``spent_ids``: ids of sessions retracted or evicted -> their name time, as long as their name could be
      given again (see ``evict``); ``session_ids.new_session_id`` never gives them again.
    - ``horizon_ms``: the highest watermark ``evict`` has used. The watermark never goes below it, even if a
      restarted caller computes a lower stream time: what was evicted stays closed.
    - ``bot_reason``: why the visitor was flagged as a bot by behaviour ("" if it was not).
    - ``forget_from_ms``: the lowest time in ``seen`` and ``spent_ids``: ``evict`` looks at them only once the
      watermark passes it (it runs after every event).
    """

    __slots__ = (
        "bot_reason",
        "events",
        "forget_from_ms",
        "horizon_ms",
        "retained_ids",
        "seen",
        "sessions",
        "site_id",
        "spent_ids",
        "visitor_id",
    )

    def __init__(
        self,
        site_id: str,
        visitor_id: str,
        *,
        events: list[RetainedEvent] | None = None,
        sessions: list[OpenSession] | None = None,
        seen: dict[str, int] | None = None,
        spent_ids: dict[str, int] | None = None,
        horizon_ms: int = NO_HORIZON_MS,
        bot_reason: str = "",
    ) -> None:
        self.site_id = site_id
        self.visitor_id = visitor_id
        self.events = events if events is not None else []
        self.sessions = sessions if sessions is not None else []
        self.seen = seen if seen is not None else {}
        self.spent_ids = spent_ids if spent_ids is not None else {}
        self.horizon_ms = horizon_ms
        self.bot_reason = bot_reason
        self.retained_ids = {event.event_id for event in self.events}
        self.forget_from_ms = min([*self.seen.values(), *self.spent_ids.values()], default=NOTHING_TO_FORGET_MS)

    def remember_seen(self, event_id: str, keep_until_ms: int) -> None:
        self.seen[event_id] = keep_until_ms
        self.forget_from_ms = min(self.forget_from_ms, keep_until_ms)

    def spend_id(self, session: OpenSession) -> None:
        self.spent_ids[session.session_id] = session.name_time_ms
        self.forget_from_ms = min(self.forget_from_ms, session.name_time_ms)

    def live_rows(self) -> tuple[SessionRow, ...]:
        """The last row written for each retained session."""
        return tuple(session.row for session in self.sessions)


def watermark_of(state: VisitorSessions | None, stream_time_ms: int, rules: SessionRules) -> int:
    """Events before this time are too late: the stream time less the allowed lateness, never below what
    ``evict`` has already used."""
    watermark = stream_time_ms - rules.allowed_lateness_ms
    return watermark if state is None else max(watermark, state.horizon_ms)


def apply_event(
    state: VisitorSessions | None, event: SessionEvent, stream_time_ms: int, rules: SessionRules
) -> tuple[VisitorSessions, SessionChanges]:
    """Sessionize one event of the visitor whose state is ``state`` (None for a visitor not seen yet).

    ``stream_time_ms`` is the highest ``received_at_ms`` seen so far on the event's Kafka partition, this event
    included. An id already seen is a duplicate and changes nothing; an event that takes no part in sessions,
    or whose time is before the watermark (``stream_time_ms - allowed_lateness_ms``), is remembered as seen but
    not sessionized. Any other event joins the session its time puts it in, and every session it changes is
    corrected (``-1`` of its last row, ``+1`` of its new one). Updates ``state`` in place (see module doc).
    """
    if state is None:
        state = VisitorSessions(event.site_id, event.visitor_id)
    event_id = event.event_id
    if event_id in state.retained_ids or event_id in state.seen:
        return state, DUPLICATE
    watermark = watermark_of(state, stream_time_ms, rules)
    participates = takes_part_in_sessions(event.event_name)
    if not participates or event.event_time_ms < watermark:
        # Remembered while its session could still change, and for at least the allowed lateness after now.
        keep_until = max(event.event_time_ms + rules.idle_timeout_ms, watermark + rules.allowed_lateness_ms)
        state.remember_seen(event_id, keep_until)
        return state, TOO_LATE if participates else NOT_SESSIONIZED
    events = state.events
    if not events or (event.event_time_ms, event_id) > (events[-1].time_ms, events[-1].event_id):
        return state, _append(state, retain(event, events[-1] if events else None), rules)
    return state, _insert(state, event, rules)


def _append(state: VisitorSessions, event: RetainedEvent, rules: SessionRules) -> SessionChanges:
    """The fast path: ``event`` is later than every retained event, so it extends or follows the last session."""
    sessions = state.sessions
    if sessions:
        last = sessions[-1]
        if not starts_new_session(state.events[-1], event, last.row.start_time_ms, last.campaign, rules):
            extended = extend(last, event)
            state.events.append(event)
            state.retained_ids.add(event.event_id)
            sessions[-1] = extended
            return SessionChanges(
                rows=(last.row._replace(sign=-1), extended.row),
                assignments=(EventAssignment(event.event_id, last.session_id),),
                session_id_of_event=last.session_id,
            )
    in_use = {session.session_id for session in sessions}
    in_use.update(state.spent_ids)
    opened = summarize(
        (event,),
        site_id=state.site_id,
        visitor_id=state.visitor_id,
        session_id=new_session_id(state.site_id, state.visitor_id, event.event_id, in_use),
        version=1,
        name_time_ms=event.time_ms,
        flagged_bot=bool(state.bot_reason),
    )
    state.events.append(event)
    state.retained_ids.add(event.event_id)
    sessions.append(opened)
    return SessionChanges(
        rows=(opened.row,),
        assignments=(EventAssignment(event.event_id, opened.session_id),),
        session_id_of_event=opened.session_id,
    )


def _insert(state: VisitorSessions, event: SessionEvent, rules: SessionRules) -> SessionChanges:
    """The slow path: ``event`` goes before the last retained event; the sessions from the one holding the event
    just before it are recomputed until the new partition meets a session start of the old one again."""
    events, sessions = state.events, state.sessions
    position = bisect_left(
        events, (event.event_time_ms, event.event_id), key=lambda retained: (retained.time_ms, retained.event_id)
    )
    retained = retain(event, events[position - 1] if position else events[0])
    starts = list(accumulate((session.size for session in sessions), initial=0))[:-1]  # old indices
    first = bisect_right(starts, position - 1) - 1 if position else 0
    events.insert(position, retained)
    try:
        plan = _recompute(state, position, starts, first, rules)
    except BaseException:
        del events[position]
        raise
    new_sessions, stop, changes, retracted = plan
    state.retained_ids.add(retained.event_id)
    sessions[first:stop] = new_sessions
    for session in retracted:
        state.spend_id(session)
    return changes


_Plan = tuple[list[OpenSession], int, SessionChanges, list[OpenSession]]


def _recompute(state: VisitorSessions, position: int, starts: list[int], first: int, rules: SessionRules) -> _Plan:
    """The new sessions replacing old sessions ``first`` to ``stop - 1``, after an insertion at ``position``.

    ``starts`` are the old sessions' first indices before the insertion (an old index ``j >= position`` is now
    ``j + 1``). Returns the new sessions, ``stop``, the changes to emit and the old sessions retracted.
    """
    events, sessions = state.events, state.sessions
    region_start = starts[first]
    old_start_at = {start + 1: index for index, start in enumerate(starts) if index >= first and start >= position}
    bounds = [region_start]
    stop, region_end = len(sessions), len(events)
    previous = events[region_start]
    start_ms, campaign = previous.time_ms, campaign_of(previous.origin)
    for index in range(region_start + 1, len(events)):
        current = events[index]
        if starts_new_session(previous, current, start_ms, campaign, rules):
            if index in old_start_at:  # the old partition started a session here too: the rest is unchanged
                stop, region_end = old_start_at[index], index
                break
            bounds.append(index)
            start_ms, campaign = current.time_ms, campaign_of(current.origin)
        else:
            current_campaign = campaign_of(current.origin)
            if current_campaign != NO_CAMPAIGN:
                campaign = current_campaign
        previous = current

    # The old session of each event of the region (None for the inserted one), by new index - region_start.
    owners: list[int | None] = []
    for old in range(first, stop):
        owners.extend([old] * sessions[old].size)
    owners.insert(position - region_start, None)

    in_use = {session.session_id for session in sessions}
    in_use.update(state.spent_ids)
    taken: set[str] = set()
    retractions: list[SessionRow] = []
    versions: list[SessionRow] = []
    assignments: list[EventAssignment] = []
    new_sessions: list[OpenSession] = []
    session_id_of_event = ""
    for start, end in zip(bounds, [*bounds[1:], region_end], strict=True):
        # The new session keeps the id of the old session of its earliest previously assigned event, if free.
        earliest = start + 1 if start == position else start
        owner = owners[earliest - region_start] if earliest < end else None
        old_session = sessions[owner] if owner is not None else None
        if old_session is not None and old_session.session_id not in taken:
            taken.add(old_session.session_id)
            version = old_session.row.version
            opened = _summarize(state, events[start:end], old_session.session_id, version, old_session.name_time_ms)
            if opened.row != old_session.row:
                opened = opened._replace(row=opened.row._replace(version=version + 1))
                retractions.append(old_session.row._replace(sign=-1))
                versions.append(opened.row)
        else:
            session_id = new_session_id(state.site_id, state.visitor_id, events[start].event_id, in_use)
            in_use.add(session_id)
            opened = _summarize(state, events[start:end], session_id, 1, events[start].time_ms)
            versions.append(opened.row)
        new_sessions.append(opened)
        session_id = opened.session_id
        if start <= position < end:
            session_id_of_event = session_id
            assignments.insert(0, EventAssignment(events[position].event_id, session_id))
        for index in range(start, end):
            owner = owners[index - region_start]
            if owner is not None and sessions[owner].session_id != session_id:
                assignments.append(EventAssignment(events[index].event_id, session_id))
    retracted = [sessions[old] for old in range(first, stop) if sessions[old].session_id not in taken]
    retractions.extend(session.row._replace(sign=-1) for session in retracted)
    changes = SessionChanges(
        rows=(*retractions, *versions), assignments=tuple(assignments), session_id_of_event=session_id_of_event
    )
    return new_sessions, stop, changes, retracted


def _summarize(
    state: VisitorSessions, events: Sequence[RetainedEvent], session_id: str, version: int, name_time_ms: int
) -> OpenSession:
    return summarize(
        events,
        site_id=state.site_id,
        visitor_id=state.visitor_id,
        session_id=session_id,
        version=version,
        name_time_ms=name_time_ms,
        flagged_bot=bool(state.bot_reason),
    )


def flag_visitor_as_bot(state: VisitorSessions, reason: str) -> tuple[VisitorSessions, SessionChanges]:
    """Mark the visitor as a bot (say, for an impossible hit rate): every retained session not yet marked is
    corrected with ``is_bot=True``, and so are its sessions from now on. Flagging twice changes nothing.

    The flag lives as long as the state: once ``evict`` has forgotten everything, a returning bot must be
    flagged again (which corrects its retained sessions again). Updates ``state`` in place.
    """
    if not reason:
        raise ValueError("a bot flag needs a reason")
    if state.bot_reason:
        return state, NOT_SESSIONIZED
    state.bot_reason = reason
    retractions: list[SessionRow] = []
    versions: list[SessionRow] = []
    for index, session in enumerate(state.sessions):
        if not session.row.is_bot:
            row = session.row._replace(is_bot=True, version=session.row.version + 1)
            retractions.append(session.row._replace(sign=-1))
            versions.append(row)
            state.sessions[index] = session._replace(row=row)
    return state, SessionChanges(rows=(*retractions, *versions))


def hit_rate_exceeded(state: VisitorSessions | None, event: SessionEvent, *, max_events: int, window_ms: int) -> bool:
    """Whether ``event`` and the retained events in the ``window_ms`` before it are more than ``max_events``:
    a rate no human reaches is a reason for ``flag_visitor_as_bot``."""
    if state is None:
        return max_events < 1
    events = state.events
    low = bisect_left(events, event.event_time_ms - window_ms, key=lambda retained: retained.time_ms)
    high = bisect_right(events, event.event_time_ms, key=lambda retained: retained.time_ms)
    return high - low + 1 > max_events


def evict(state: VisitorSessions, stream_time_ms: int, rules: SessionRules) -> VisitorSessions | None:
    """Forget the sessions that can no longer change, and the ids that need no longer be remembered; None when
    nothing is left. Updates ``state`` in place.

    A session S is forgotten when ``S.end_time_ms + idle_timeout_ms < watermark``. Why no event can change it
    afterwards: an event x that is not too late has ``x.time >= watermark`` (the watermark never decreases, see
    ``horizon_ms``), so x is later than every event of S by more than the idle timeout. For x to join S, x
    would have to be in S's session by the rules, which look only at the event before x: if that event is in S,
    the idle rule starts a new session at x; if it is later than S, then so is x's session. Nor can x change
    where S ends: the event following S's last one is either x (which starts a session, by the idle rule) or a
    retained event whose session start depends only on S, which is fixed. So S, and the fact that a session
    starts after it, are final; the retained sessions are cut exactly as if S were still there.

    An id seen is remembered until the watermark passes both its event time plus the idle timeout (while its
    session could change) and the time it was seen (so a re-delivery within the allowed lateness is reported
    as a duplicate, not as too late); the events of an evicted session are remembered as seen now.
    A spent session id is dropped once its name time is before the watermark: a new id is only ever named after
    an event at or after the watermark (only an inserted event, which is not too late, can move a session start
    to a later event), so that name cannot come up again.
    """
    watermark = watermark_of(state, stream_time_ms, rules)
    state.horizon_ms = watermark
    sessions, events = state.sessions, state.events
    closed = closed_events = 0
    for session in sessions:
        if session.row.end_time_ms + rules.idle_timeout_ms >= watermark:
            break
        closed += 1
        closed_events += session.size
    if closed:
        keep_until = watermark + rules.allowed_lateness_ms  # at least the time they were seen
        for event in events[:closed_events]:
            state.remember_seen(event.event_id, keep_until)
            state.retained_ids.discard(event.event_id)
        for session in sessions[:closed]:
            state.spend_id(session)
        del events[:closed_events]
        del sessions[:closed]
    if state.forget_from_ms < watermark:
        state.seen = {event_id: until for event_id, until in state.seen.items() if until >= watermark}
        state.spent_ids = {session_id: time for session_id, time in state.spent_ids.items() if time >= watermark}
        state.forget_from_ms = min([*state.seen.values(), *state.spent_ids.values()], default=NOTHING_TO_FORGET_MS)
    if not events and not state.seen:
        return None
    return state
