"""The definition of sessions, as one plain loop over all of a visitor's events: what the streaming code must
produce, whatever the order and duplication in which the events arrive.

Written to be obviously right rather than fast (it rescans a session for its campaign), and on purpose
independently of the streaming modules: tests compare the two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

from schemas.sessions import BOUNCE_ENGAGED_MS, PAGE_VIEW, SessionEvent, SessionRules, takes_part_in_sessions


class ReferenceSession(NamedTuple):
    """A session as ``SessionRow`` describes it (without id, version and sign), with the ids of its events."""

    site_id: str
    visitor_id: str
    user_id: str
    start_time_ms: int
    end_time_ms: int
    entry_url: str
    exit_url: str
    referrer: str
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    device_type: str
    browser: str
    os: str
    country: str
    region: str
    city: str
    page_views: int
    events: int
    duration_ms: int
    engaged_ms: int
    is_bounce: bool
    is_bot: bool
    event_ids: frozenset[str]


def reference_sessions(
    events: Iterable[SessionEvent], rules: SessionRules, *, bot_visitors: Collection[tuple[str, str]] = ()
) -> list[ReferenceSession]:
    """All sessions of ``events``: the first copy of each event id counts, events that take no part in
    sessions are left out, and each (site_id, visitor_id)'s events are cut in (event_time_ms, event_id) order.
    ``bot_visitors`` are (site_id, visitor_id) pairs flagged as bots by behaviour."""
    first_copies: dict[str, SessionEvent] = {}
    for event in events:
        first_copies.setdefault(event.event_id, event)
    by_visitor: dict[tuple[str, str], list[SessionEvent]] = defaultdict(list)
    for event in first_copies.values():
        if takes_part_in_sessions(event.event_name):
            by_visitor[(event.site_id, event.visitor_id)].append(event)
    sessions: list[ReferenceSession] = []
    for visitor in sorted(by_visitor):
        ordered = sorted(by_visitor[visitor], key=lambda event: (event.event_time_ms, event.event_id))
        current: list[SessionEvent] = []
        for event in ordered:
            if current and _starts_session(current, event, rules):
                sessions.append(_describe(current, visitor in bot_visitors))
                current = []
            current.append(event)
        sessions.append(_describe(current, visitor in bot_visitors))
    return sessions


def _campaign(event: SessionEvent) -> tuple[str, str, str] | None:
    campaign = (event.utm_source, event.utm_medium, event.utm_campaign)
    return campaign if any(campaign) else None


def _starts_session(session: list[SessionEvent], event: SessionEvent, rules: SessionRules) -> bool:
    previous = session[-1]
    if event.event_time_ms - previous.event_time_ms > rules.idle_timeout_ms:
        return True
    if event.event_time_ms - session[0].event_time_ms >= rules.max_length_ms:
        return True
    if rules.split_on_campaign_change:
        campaigns = [campaign for campaign in map(_campaign, session) if campaign is not None]
        current = campaigns[-1] if campaigns else None
        if _campaign(event) is not None and _campaign(event) != current:
            return True
    if rules.split_at_midnight:
        zone = rules.zone
        day = datetime.fromtimestamp(event.event_time_ms / 1000, zone).date()
        return day != datetime.fromtimestamp(previous.event_time_ms / 1000, zone).date()
    return False


def _describe(session: list[SessionEvent], flagged_bot: bool) -> ReferenceSession:
    first, last = session[0], session[-1]
    page_views = [event for event in session if event.event_name == PAGE_VIEW]
    user_ids = [event.user_id for event in session if event.user_id]
    engaged_ms = sum(event.engaged_ms for event in session)
    converted = any(event.is_conversion for event in session)
    return ReferenceSession(
        site_id=first.site_id,
        visitor_id=first.visitor_id,
        user_id=user_ids[-1] if user_ids else "",
        start_time_ms=first.event_time_ms,
        end_time_ms=last.event_time_ms,
        entry_url=page_views[0].url if page_views else "",
        exit_url=page_views[-1].url if page_views else "",
        referrer=first.referrer,
        channel=first.channel,
        utm_source=first.utm_source,
        utm_medium=first.utm_medium,
        utm_campaign=first.utm_campaign,
        utm_term=first.utm_term,
        utm_content=first.utm_content,
        device_type=first.device_type,
        browser=first.browser,
        os=first.os,
        country=first.country,
        region=first.region,
        city=first.city,
        page_views=len(page_views),
        events=len(session),
        duration_ms=last.event_time_ms - first.event_time_ms,
        engaged_ms=engaged_ms,
        is_bounce=len(page_views) <= 1 and not converted and engaged_ms < BOUNCE_ENGAGED_MS,
        is_bot=flagged_bot or any(event.is_bot for event in session),
        event_ids=frozenset(event.event_id for event in session),
    )
