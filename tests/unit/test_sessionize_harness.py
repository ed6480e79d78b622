"""The harness of the sessionize tests: events as a site sends them, a driver that plays the stream worker's part
(stream time, one state per visitor, eviction, the changelog round trip), and ``beacon.sessions`` as
VersionedCollapsingMergeTree would collapse the rows it is sent. Its own checks are at the end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.sessions import SessionChanges, SessionEvent, SessionRow, SessionRules
from stream_processors.sessionize import VisitorSessions, apply_event, evict, from_bytes, to_bytes
from stream_processors.sessionize.reference import ReferenceSession, reference_sessions

MINUTE = 60_000
BASE_MS = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp() * 1000)
SITE = "shop.example"
VISITOR = "visitor-1"


def at(minutes: float) -> int:
    return BASE_MS + int(minutes * MINUTE)


def event(event_id: str, minutes: float, name: str = "page_view", **fields: Any) -> SessionEvent:
    """An event of the default visitor ``minutes`` after BASE_MS, received as it happened unless told."""
    time_ms = at(minutes)
    defaults: dict[str, Any] = {
        "site_id": SITE,
        "visitor_id": VISITOR,
        "event_time_ms": time_ms,
        "received_at_ms": time_ms,
        "event_name": name,
        "url": f"https://shop.example/{event_id}" if name == "page_view" else "",
        "device_type": "desktop",
        "browser": "Firefox",
        "os": "Linux",
        "country": "CH",
        "region": "ZH",
        "city": "Zurich",
    }
    return SessionEvent(event_id, **{**defaults, **fields})


class CollapsedTable:
    """``beacon.sessions`` after its rows collapse, checking on the way that every row is one it could take:
    a ``-1`` is an exact copy of the session's live ``+1``, and no (id, version, sign) is ever sent twice."""

    def __init__(self) -> None:
        self.live: dict[str, SessionRow] = {}
        self.sign_sums: dict[str, int] = {}
        self.sent: set[tuple[str, int, int]] = set()
        self.session_of_event: dict[str, str] = {}

    def apply(self, changes: SessionChanges) -> None:
        signs = [row.sign for row in changes.rows]
        assert signs == sorted(signs), "every -1 row comes before every +1 row"
        for row in changes.rows:
            key = (row.session_id, row.version, row.sign)
            assert key not in self.sent, f"sent twice: {key}"
            self.sent.add(key)
            if row.sign == -1:
                assert self.live.get(row.session_id) == row._replace(sign=1), "a -1 row must copy the live +1 row"
                del self.live[row.session_id]
            else:
                assert row.sign == 1
                assert row.session_id not in self.live, "a +1 row while the previous one was not cancelled"
                self.live[row.session_id] = row
            total = self.sign_sums.get(row.session_id, 0) + row.sign
            assert total in (0, 1)
            self.sign_sums[row.session_id] = total
        for assignment in changes.assignments:
            self.session_of_event[assignment.event_id] = assignment.session_id
        if changes.session_id_of_event:
            assert self.session_of_event[changes.assignments[0].event_id] == changes.session_id_of_event

    def sessions(self) -> list[tuple[tuple[Any, ...], frozenset[str]]]:
        """Each live session's attributes (all but id, version and sign) and its events, in a canonical order."""
        events_of: dict[str, set[str]] = {session_id: set() for session_id in self.live}
        for event_id, session_id in self.session_of_event.items():
            assert session_id in events_of, f"event {event_id} is assigned to a dead session {session_id}"
            events_of[session_id].add(event_id)
        return sorted((tuple(row)[1:-2], frozenset(events_of[session_id])) for session_id, row in self.live.items())


def reference_view(sessions: Iterable[ReferenceSession]) -> list[tuple[tuple[Any, ...], frozenset[str]]]:
    return sorted((tuple(session)[:-1], session.event_ids) for session in sessions)


@dataclass
class Sessionizer:
    """The stream worker's part, for one Kafka partition: stream time, visitors' states, what was accepted."""

    rules: SessionRules = field(default_factory=SessionRules)
    round_trip: bool = False  # read every state back from its changelog bytes after each call
    stream_time_ms: int = -(2**62)
    states: dict[tuple[str, str], VisitorSessions] = field(default_factory=dict)
    table: CollapsedTable = field(default_factory=CollapsedTable)
    accepted: list[SessionEvent] = field(default_factory=list)

    def deliver(self, delivered: SessionEvent) -> SessionChanges:
        self.stream_time_ms = max(self.stream_time_ms, delivered.received_at_ms)
        key = (delivered.site_id, delivered.visitor_id)
        before = to_bytes(self.states[key]) if key in self.states else None
        state, changes = apply_event(self.states.get(key), delivered, self.stream_time_ms, self.rules)
        if changes.duplicate:
            assert changes == SessionChanges(duplicate=True)
            assert to_bytes(state) == before, "a duplicate changes nothing"
        self.states[key] = read_back(state) if self.round_trip else state
        self.table.apply(changes)
        if not changes.duplicate and not changes.too_late:
            self.accepted.append(delivered)
        return changes

    def deliver_all(self, events: Iterable[SessionEvent]) -> list[SessionChanges]:
        return [self.deliver(each) for each in events]

    def evict(self) -> None:
        for key, state in list(self.states.items()):
            kept = evict(state, self.stream_time_ms, self.rules)
            if kept is None:
                del self.states[key]
            else:
                self.states[key] = read_back(kept) if self.round_trip else kept

    def reference(self) -> list[tuple[tuple[Any, ...], frozenset[str]]]:
        return reference_view(reference_sessions(self.accepted, self.rules))

    def state(self) -> VisitorSessions:
        return self.states[(SITE, VISITOR)]


def read_back(state: VisitorSessions) -> VisitorSessions:
    """``state`` as a restarted worker reads it from the changelog."""
    data = to_bytes(state)
    restored = from_bytes(data)
    assert to_bytes(restored) == data
    assert restored.live_rows() == state.live_rows()
    assert restored.retained_ids == state.retained_ids
    return restored


def row_of(session_id: str = "s", version: int = 1) -> SessionRow:
    return SessionRow(session_id, SITE, VISITOR, "", 0, 0, *[""] * 15, 1, 1, 0, 0, True, False, version, 1)


def test_the_table_keeps_the_last_uncancelled_row() -> None:
    table = CollapsedTable()
    first, second = row_of(version=1), row_of(version=2)._replace(events=2)
    table.apply(SessionChanges(rows=(first,)))
    table.apply(SessionChanges(rows=(first._replace(sign=-1), second)))
    assert table.live == {"s": second}


def test_the_table_refuses_a_cancel_that_copies_no_live_row() -> None:
    table = CollapsedTable()
    table.apply(SessionChanges(rows=(row_of(version=1),)))
    with pytest.raises(AssertionError):
        table.apply(SessionChanges(rows=(row_of(version=1)._replace(events=5, sign=-1),)))


def test_the_table_refuses_a_version_sent_twice() -> None:
    table = CollapsedTable()
    table.apply(SessionChanges(rows=(row_of(version=1),)))
    table.apply(SessionChanges(rows=(row_of(version=1)._replace(sign=-1),)))
    with pytest.raises(AssertionError):
        table.apply(SessionChanges(rows=(row_of(version=1),)))
