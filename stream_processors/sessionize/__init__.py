"""Event-time sessionization, pure: a visitor's state, one event in, the session rows to correct out.

The faust agent keeps one ``VisitorSessions`` per (site_id, visitor_id) in a table (``to_bytes`` /
``from_bytes`` are its codec), calls ``apply_event`` for each event and ``evict`` now and then, and sends the
returned rows and assignments on. ``reference_sessions`` is the plain definition the streaming code is tested
against.
"""

from stream_processors.sessionize.state_codec import from_bytes, to_bytes
from stream_processors.sessionize.visitor_sessions import (
    VisitorSessions,
    apply_event,
    evict,
    flag_visitor_as_bot,
    hit_rate_exceeded,
)

__all__ = [
    "VisitorSessions",
    "apply_event",
    "evict",
    "flag_visitor_as_bot",
    "from_bytes",
    "hit_rate_exceeded",
    "to_bytes",
]
