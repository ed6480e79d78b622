"""A visitor's state as bytes, for the faust table's changelog: compact JSON arrays (orjson), versioned.

Layout (format 1)::

    [1, site_id, visitor_id, horizon_ms, bot_reason, origins, devices, events, sessions, seen, spent_ids]

- ``origins`` / ``devices``: each distinct ``Origin`` / ``Device`` once, as an array of its strings.
- ``events``: ``[time delta, event_id, flags, origin index, device index, url, user_id, engaged_ms]`` each, the
  time as a difference from the previous event's (the first's from 0), trailing ""/0 values left out.
- ``sessions``: ``[session_id, size, version, name_time_ms]`` each. Rows are not stored: a session's last
  written row is, by construction, the summary of its events at its version, so it is recomputed on reading.
- ``seen`` / ``spent_ids``: JSON objects, as in ``VisitorSessions``.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_processors.sessionize.session_summary import Device, OpenSession, Origin, RetainedEvent, summarize
from stream_processors.sessionize.visitor_sessions import VisitorSessions

FORMAT_VERSION = 1


def to_bytes(state: VisitorSessions) -> bytes:
    """``state`` in the changelog's format."""
    origins: dict[Origin, int] = {}
    devices: dict[Device, int] = {}
    events: list[list[str | int]] = []
    previous_ms = 0
    for event in state.events:
        item: list[str | int] = [
            event.time_ms - previous_ms,
            event.event_id,
            event.flags,
            origins.setdefault(event.origin, len(origins)),
            devices.setdefault(event.device, len(devices)),
            event.url,
            event.user_id,
            event.engaged_ms,
        ]
        while len(item) > 5 and not item[-1]:
            item.pop()
        events.append(item)
        previous_ms = event.time_ms
    sessions = [[s.session_id, s.size, s.row.version, s.name_time_ms] for s in state.sessions]
    return orjson.dumps(
        [
            FORMAT_VERSION,
            state.site_id,
            state.visitor_id,
            state.horizon_ms,
            state.bot_reason,
            [list(origin) for origin in origins],
            [list(device) for device in devices],
            events,
            sessions,
            state.seen,
            state.spent_ids,
        ]
    )


def from_bytes(data: bytes) -> VisitorSessions:
    """The state written by ``to_bytes``. Raises ValueError for anything else."""
    try:
        document: Any = orjson.loads(data)
        if not isinstance(document, list) or not document or document[0] != FORMAT_VERSION:
            raise ValueError("not a visitor sessions state of format 1")
        _, site_id, visitor_id, horizon_ms, bot_reason, origins, devices, events, sessions, seen, spent = document
        origin_table = [Origin(*fields) for fields in origins]
        device_table = [Device(*fields) for fields in devices]
        retained: list[RetainedEvent] = []
        time_ms = 0
        for item in events:
            delta, event_id, flags, origin, device = item[:5]
            url = item[5] if len(item) > 5 else ""
            user_id = item[6] if len(item) > 6 else ""
            engaged_ms = item[7] if len(item) > 7 else 0
            time_ms += delta
            retained.append(
                RetainedEvent(
                    time_ms, event_id, flags, url, engaged_ms, user_id, origin_table[origin], device_table[device]
                )
            )
        open_sessions: list[OpenSession] = []
        start = 0
        for session_id, size, version, name_time_ms in sessions:
            if size < 1 or start + size > len(retained):
                raise ValueError("sessions do not partition the events")
            open_sessions.append(
                summarize(
                    retained[start : start + size],
                    site_id=site_id,
                    visitor_id=visitor_id,
                    session_id=session_id,
                    version=version,
                    name_time_ms=name_time_ms,
                    flagged_bot=bool(bot_reason),
                )
            )
            start += size
        if start != len(retained):
            raise ValueError("sessions do not partition the events")
    except (TypeError, IndexError, KeyError) as error:
        raise ValueError(f"malformed visitor sessions state: {error}") from error
    return VisitorSessions(
        site_id,
        visitor_id,
        events=retained,
        sessions=open_sessions,
        seen=dict(seen),
        spent_ids=dict(spent),
        horizon_ms=horizon_ms,
        bot_reason=bot_reason,
    )
