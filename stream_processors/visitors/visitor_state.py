"""What the stream worker keeps per visitor (one faust table entry), and its changelog encoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import orjson

from stream_processors.sessionize.state_codec import from_bytes, to_bytes
from stream_processors.sessionize.visitor_sessions import VisitorSessions

_FORMAT = 1


@dataclass(slots=True)
class VisitorState:
    """The visitor's sessions (with the event ids seen, for dedup), the user it was identified as, and where
    and when it was last active, so an idle visitor can be swept from memory.

    The sessionizer's clock is the visitor's own: its latest event time. A visitor's events come in order of
    delivery, and a backfill (a server sending last week's events now) is sessionized like live traffic. Once
    swept, only ``closed_before_ms`` is kept (its sessions are final): a later event before it is too late.
    """

    partition: int  # of the raw-hits topic: the worker that owns it also owns this state
    last_active_ms: int  # the partition's stream time (highest receipt time) when the visitor was last updated
    max_event_time_ms: int = 0
    closed_before_ms: int = 0  # after a sweep: events before this time are too late
    user_id: str = ""
    sessions: VisitorSessions | None = None


class VisitorStateHeader(NamedTuple):
    """What the sweeper needs, read without decoding the sessions."""

    partition: int
    last_active_ms: int
    swept: bool  # only the identity and closed-before time are left


def encode_visitor_state(state: VisitorState) -> bytes:
    """One JSON header line, then the sessionizer's own encoding (``sessionize.state_codec``)."""
    header = orjson.dumps(
        [_FORMAT, state.partition, state.last_active_ms, state.max_event_time_ms, state.closed_before_ms, state.user_id]
    )
    return header + b"\n" + (to_bytes(state.sessions) if state.sessions is not None else b"")


def decode_visitor_state(data: bytes) -> VisitorState:
    header, _, sessions = data.partition(b"\n")
    version, partition, last_active_ms, max_event_time_ms, closed_before_ms, user_id = orjson.loads(header)
    if version != _FORMAT:
        raise ValueError(f"visitor state format {version} is not {_FORMAT}")
    return VisitorState(
        partition,
        last_active_ms,
        max_event_time_ms,
        closed_before_ms,
        user_id,
        from_bytes(sessions) if sessions else None,
    )


def visitor_state_header(data: bytes) -> VisitorStateHeader:
    header, _, sessions = data.partition(b"\n")
    _, partition, last_active_ms, *_ = orjson.loads(header)
    return VisitorStateHeader(partition, last_active_ms, swept=not sessions)


def swept(state: VisitorState, idle_timeout_ms: int) -> VisitorState:
    """What remains of an idle visitor: who it was identified as, and that its sessions are closed."""
    closed_before = max(state.closed_before_ms, state.max_event_time_ms + idle_timeout_ms)
    return VisitorState(state.partition, state.last_active_ms, state.max_event_time_ms, closed_before, state.user_id)
