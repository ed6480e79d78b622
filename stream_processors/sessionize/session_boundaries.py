"""Where a new session starts: the four rules of ``SessionRules``, decided for one event at a time.

Whether event ``e`` starts a session depends only on the event before it and on the session that event is in
(its start and its current campaign). So the partition of a visitor's events before any point does not depend
on the events after it, and once a recomputation finds a session start that the old partition also had, after
the point where an event was inserted, everything from there on is unchanged.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from schemas.sessions import SessionRules
from stream_processors.sessionize.session_summary import NO_CAMPAIGN, Campaign, RetainedEvent, campaign_of


def local_day(time_ms: int, zone: ZoneInfo) -> int:
    """The proleptic Gregorian ordinal of the local date of ``time_ms`` in ``zone``."""
    return datetime.fromtimestamp(time_ms / 1000, zone).toordinal()


def starts_new_session(
    previous: RetainedEvent,
    event: RetainedEvent,
    session_start_ms: int,
    session_campaign: Campaign,
    rules: SessionRules,
) -> bool:
    """Whether ``event`` starts a new session, given the event just before it and that event's session."""
    time_ms = event.time_ms
    if time_ms - previous.time_ms > rules.idle_timeout_ms or time_ms - session_start_ms >= rules.max_length_ms:
        return True
    if rules.split_on_campaign_change:
        campaign = campaign_of(event.origin)
        if campaign != NO_CAMPAIGN and campaign != session_campaign:
            return True
    if rules.split_at_midnight:
        zone = rules.zone
        return local_day(time_ms, zone) != local_day(previous.time_ms, zone)
    return False
