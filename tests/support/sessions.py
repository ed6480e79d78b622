"""Sessions as ClickHouse holds them, and as the reference sessionizer computes them from the stored events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.events import Event
from schemas.sessions import SessionRules
from stream_processors.sessionize.reference import ReferenceSession, reference_sessions
from stream_processors.visitors.track_event import session_event_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COMPARED = (
    "visitor_id", "user_id", "start_time_ms", "end_time_ms", "entry_url", "exit_url", "referrer", "channel",
    "utm_source", "utm_medium", "utm_campaign", "device_type", "browser", "os", "country", "page_views", "events",
    "duration_ms", "engaged_ms", "is_bounce", "is_bot",
)  # fmt: skip
Described = tuple[object, ...]


def stored_events(clickhouse: Client, site_id: str) -> list[Event]:
    """Every event of the site, once, as the canonical type (the columns are its fields)."""
    columns = [name for name in Event.model_fields if name != "ip"]
    result = clickhouse.query(
        f"SELECT {', '.join(columns)} FROM beacon.events FINAL WHERE site_id = {{s:String}}", parameters={"s": site_id}
    )
    events = []
    for row in result.result_rows:
        fields = dict(zip(columns, row, strict=True))  # (DateTime64(3, 'UTC') comes back naive: Event reads UTC)
        events.append(Event.model_validate({**fields, "ip": ""}))
    return events


def reference_of(events: list[Event], rules: SessionRules) -> dict[frozenset[str], Described]:
    """The reference's sessions over the stored events that were sessionized (too-late ones are not), by their
    set of event ids."""
    session_events = [
        session_event_of(event, event.visitor_id, event.user_id) for event in events if not event.too_late
    ]
    return {session.event_ids: _describe(session) for session in reference_sessions(session_events, rules)}


def stored_sessions(clickhouse: Client, site_id: str) -> dict[frozenset[str], Described]:
    """The live version of each session (the ``+1`` rows that no ``-1`` cancelled), by the ids of the events
    that belong to it now (``beacon.event_sessions``)."""
    live = clickhouse.query(
        f"SELECT toString(session_id), {', '.join(_columns())} FROM beacon.sessions FINAL"
        " WHERE site_id = {s:String} AND sign = 1",
        parameters={"s": site_id},
    ).result_rows
    members = clickhouse.query(
        "SELECT toString(session_id), groupArray(toString(event_id)) FROM beacon.event_sessions"
        " WHERE site_id = {s:String} GROUP BY session_id",
        parameters={"s": site_id},
    ).result_rows
    events_of = {session_id: frozenset(event_ids) for session_id, event_ids in members}
    return {events_of.get(row[0], frozenset()): _from_row(row[1:]) for row in live}


def collapsed_totals(clickhouse: Client, site_id: str) -> tuple[int, int, int]:
    """Sessions, page views and events counted the collapsing way (sum of sign), without FINAL."""
    row = clickhouse.query(
        "SELECT sum(sign), sum(sign * page_views), sum(sign * events) FROM beacon.sessions WHERE site_id = {s:String}",
        parameters={"s": site_id},
    ).result_rows[0]
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def _columns() -> list[str]:
    renamed = {"start_time_ms": "start_time", "end_time_ms": "end_time"}
    return [renamed.get(name, name) for name in COMPARED]


def _from_row(row: tuple[object, ...]) -> Described:
    values = list(row)
    for index, name in enumerate(COMPARED):
        if name in ("start_time_ms", "end_time_ms"):
            moment = values[index]
            assert isinstance(moment, datetime)
            values[index] = (moment.replace(tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
        elif name in ("is_bounce", "is_bot"):
            values[index] = bool(values[index])
        elif isinstance(values[index], int):
            values[index] = int(values[index])
    return tuple(values)


def _describe(session: ReferenceSession) -> Described:
    return tuple(getattr(session, name) for name in COMPARED)
