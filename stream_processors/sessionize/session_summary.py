"""What the sessionizer keeps of an event, and a session's row computed from its events.

A retained event keeps only what a session row can need: its time and id, three flags, the url of a page view,
engaged time, user id, and the attributes a session takes from its first event (``Origin``, ``Device``). Those
two are tuples shared between neighbouring events that carry the same values, which is most of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from schemas.sessions import BOUNCE_ENGAGED_MS, PAGE_VIEW, SessionEvent, SessionRow

PAGE_VIEW_FLAG = 1
CONVERSION_FLAG = 2
BOT_FLAG = 4

Campaign = tuple[str, str, str]  # (utm_source, utm_medium, utm_campaign)
NO_CAMPAIGN: Campaign = ("", "", "")


class Origin(NamedTuple):
    """Where the visit came from."""

    referrer: str
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str


class Device(NamedTuple):
    """Who visited, and from where."""

    device_type: str
    browser: str
    os: str
    country: str
    region: str
    city: str


class RetainedEvent(NamedTuple):
    """A sessionized event as the visitor's state keeps it. Ordered by (time_ms, event_id), like sessions."""

    time_ms: int
    event_id: str
    flags: int  # PAGE_VIEW_FLAG | CONVERSION_FLAG | BOT_FLAG
    url: str  # page views only: nothing else reads it
    engaged_ms: int
    user_id: str
    origin: Origin
    device: Device


class OpenSession(NamedTuple):
    """A retained session: its events are ``size`` consecutive retained events; ``row`` was the last written."""

    session_id: str
    size: int
    row: SessionRow  # sign +1
    campaign: Campaign  # of its latest event that carries one, NO_CAMPAIGN if none does
    converted: bool
    name_time_ms: int  # time of the event its id was derived from (see session_ids.py)


def campaign_of(origin: Origin) -> Campaign:
    return (origin.utm_source, origin.utm_medium, origin.utm_campaign)


def retain(event: SessionEvent, neighbour: RetainedEvent | None) -> RetainedEvent:
    """The retained form of ``event``, sharing ``neighbour``'s origin and device tuples when they are equal."""
    origin = Origin(
        event.referrer,
        event.channel,
        event.utm_source,
        event.utm_medium,
        event.utm_campaign,
        event.utm_term,
        event.utm_content,
    )
    device = Device(event.device_type, event.browser, event.os, event.country, event.region, event.city)
    if neighbour is not None:
        if neighbour.origin == origin:
            origin = neighbour.origin
        if neighbour.device == device:
            device = neighbour.device
    page_view = event.event_name == PAGE_VIEW
    flags = (
        (PAGE_VIEW_FLAG if page_view else 0)
        | (CONVERSION_FLAG if event.is_conversion else 0)
        | (BOT_FLAG if event.is_bot else 0)
    )
    return RetainedEvent(
        event.event_time_ms,
        event.event_id,
        flags,
        event.url if page_view else "",
        event.engaged_ms,
        event.user_id,
        origin,
        device,
    )


def is_bounce(page_views: int, converted: bool, engaged_ms: int) -> bool:
    """At most one page view, no conversion, and less than ``BOUNCE_ENGAGED_MS`` of engaged time."""
    return page_views <= 1 and not converted and engaged_ms < BOUNCE_ENGAGED_MS


def summarize(
    events: Sequence[RetainedEvent],
    *,
    site_id: str,
    visitor_id: str,
    session_id: str,
    version: int,
    name_time_ms: int,
    flagged_bot: bool,
) -> OpenSession:
    """The session made of ``events`` (non-empty, in order), with its row at ``version``."""
    first = events[0]
    user_id = entry_url = exit_url = ""
    page_views = engaged_ms = 0
    converted = bot = False
    campaign = NO_CAMPAIGN
    for event in events:
        flags = event.flags
        if flags & PAGE_VIEW_FLAG:
            if not page_views:
                entry_url = event.url
            exit_url = event.url
            page_views += 1
        converted = converted or bool(flags & CONVERSION_FLAG)
        bot = bot or bool(flags & BOT_FLAG)
        engaged_ms += event.engaged_ms
        if event.user_id:
            user_id = event.user_id
        event_campaign = campaign_of(event.origin)
        if event_campaign != NO_CAMPAIGN:
            campaign = event_campaign
    start, end = first.time_ms, events[-1].time_ms
    row = SessionRow(
        session_id,
        site_id,
        visitor_id,
        user_id,
        start,
        end,
        entry_url,
        exit_url,
        *first.origin,
        *first.device,
        page_views,
        len(events),
        end - start,
        engaged_ms,
        is_bounce(page_views, converted, engaged_ms),
        bot or flagged_bot,
        version,
        1,
    )
    return OpenSession(session_id, len(events), row, campaign, converted, name_time_ms)


def extend(session: OpenSession, event: RetainedEvent) -> OpenSession:
    """``session`` with ``event`` appended (it is later than all of the session's events), one version on."""
    row = session.row
    flags = event.flags
    page_views = row.page_views
    entry_url, exit_url = row.entry_url, row.exit_url
    if flags & PAGE_VIEW_FLAG:
        if not page_views:
            entry_url = event.url
        exit_url = event.url
        page_views += 1
    converted = session.converted or bool(flags & CONVERSION_FLAG)
    engaged_ms = row.engaged_ms + event.engaged_ms
    event_campaign = campaign_of(event.origin)
    new_row = row._replace(
        user_id=event.user_id or row.user_id,
        end_time_ms=event.time_ms,
        entry_url=entry_url,
        exit_url=exit_url,
        page_views=page_views,
        events=row.events + 1,
        duration_ms=event.time_ms - row.start_time_ms,
        engaged_ms=engaged_ms,
        is_bounce=is_bounce(page_views, converted, engaged_ms),
        is_bot=row.is_bot or bool(flags & BOT_FLAG),
        version=row.version + 1,
    )
    return OpenSession(
        session.session_id,
        session.size + 1,
        new_row,
        session.campaign if event_campaign == NO_CAMPAIGN else event_campaign,
        converted,
        session.name_time_ms,
    )
