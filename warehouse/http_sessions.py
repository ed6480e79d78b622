"""ClickHouse HTTP sessions (``session_id``): the database and settings a client chose with USE and SET.

Without a session_id, USE and SET last for one request, as on a real server.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from warehouse.http_request import SessionChange

MAX_SESSIONS = 10_000


@dataclass
class SessionState:
    database: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    expires_at: float = 0.0


class HttpSessions:
    """Session states by id, expiring after their timeout, bounded in number (oldest dropped first)."""

    def __init__(self, default_timeout_seconds: float = 60) -> None:
        self._states: OrderedDict[str, SessionState] = OrderedDict()
        self._default_timeout = default_timeout_seconds
        self._lock = threading.Lock()

    def state(self, session_id: str | None, timeout_seconds: float | None = None) -> SessionState:
        """The state of ``session_id`` (a fresh one if unknown or expired); ``None`` gets a throwaway state."""
        if session_id is None:
            return SessionState()
        now = time.monotonic()
        with self._lock:
            state = self._states.pop(session_id, None)
            if state is None or state.expires_at < now:
                state = SessionState()
            state.expires_at = now + (timeout_seconds or self._default_timeout)
            self._states[session_id] = state
            while len(self._states) > MAX_SESSIONS:
                self._states.popitem(last=False)
            return state

    @staticmethod
    def apply(state: SessionState, change: SessionChange) -> None:
        if change.database is not None:
            state.database = change.database
        state.settings.update(change.settings)
