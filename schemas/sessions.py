"""Sessions: the rules that cut a visitor's events into sessions, the compact event the sessionizer reads, and
what it writes (versions of ``beacon.sessions`` rows and which session each event belongs to).

``SessionEvent``, ``SessionRow``, ``EventAssignment`` and ``SessionChanges`` are NamedTuples rather than
pydantic models: one of each is built per event on the stream worker's hot path, and none of them crosses a
trust boundary (the stream worker builds them from an already validated ``Event``).
"""

from __future__ import annotations

from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

PAGE_VIEW = "page_view"
NON_SESSION_PREFIX = "email_"  # opens and clicks happen in mail clients; the click's landing page view counts
BOUNCE_ENGAGED_MS = 10_000  # a session engaged for this long is not a bounce (GA4's "engaged session")


def takes_part_in_sessions(event_name: str) -> bool:
    """Whether events of this name belong to sessions: all but ``email_*`` (they happen in a mail client)."""
    return not event_name.startswith(NON_SESSION_PREFIX)


class SessionRules(BaseModel):
    """How a visitor's events are cut into sessions, and how late an event may arrive and still count.

    A new session starts at an event when the previous event is more than ``idle_timeout_ms`` before it, when
    the session started ``max_length_ms`` or more before it, when it lands from a different campaign
    (``split_on_campaign_change``), or when it falls on another local day in ``time_zone`` than the previous
    event (``split_at_midnight``). An event whose time is more than ``allowed_lateness_ms`` behind the stream
    time (the latest receipt time seen on its partition) is too late to be sessionized.
    """

    model_config = ConfigDict(frozen=True)

    idle_timeout_ms: int = Field(default=30 * MINUTE_MS, gt=0)
    max_length_ms: int = Field(default=24 * HOUR_MS, gt=0)
    split_on_campaign_change: bool = True
    split_at_midnight: bool = False
    time_zone: str = "UTC"  # IANA name; only the midnight rule reads it
    allowed_lateness_ms: int = Field(default=HOUR_MS, gt=0)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {name!r}") from error
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches its instances by name


class SessionEvent(NamedTuple):
    """The part of an event that sessionization reads. Times are epoch milliseconds."""

    event_id: str
    site_id: str = ""
    visitor_id: str = ""
    event_time_ms: int = 0
    received_at_ms: int = 0
    event_name: str = ""
    url: str = ""
    referrer: str = ""
    channel: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    device_type: str = ""
    browser: str = ""
    os: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    is_bot: bool = False
    user_id: str = ""
    engaged_ms: int = 0  # a page ping's engaged time; 0 for other events
    is_conversion: bool = False


class SessionRow(NamedTuple):
    """One version of a session, as written to ``beacon.sessions`` (VersionedCollapsingMergeTree(sign, version)).

    A correction is two rows: an exact copy of the previously written row with ``sign=-1``, then the new state
    with ``sign=+1`` and ``version + 1``. A session that no longer exists (merged into an earlier one) gets the
    ``-1`` row only.

    - ``user_id``: the last non-empty user id among the session's events, so events before an identify count
      for the user too.
    - ``entry_url`` / ``exit_url``: the url of the first / last page view ("" without page views).
    - ``referrer`` ... ``city``: from the session's first event in event-time order.
    - ``is_bounce``: at most one page view, no conversion and less than ``BOUNCE_ENGAGED_MS`` of engaged time
      (GA4 calls the complement an "engaged session").
    - ``is_bot``: an event of the session came from a known bot, or the visitor was flagged as one by behaviour.
    """

    session_id: str  # UUID text
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
    version: int
    sign: int


class EventAssignment(NamedTuple):
    """Which session an event belongs to (a later assignment of the same event replaces an earlier one)."""

    event_id: str
    session_id: str


class SessionChanges(NamedTuple):
    """What one event (or one bot flag) changed.

    ``rows``: every ``-1`` row, then every ``+1`` row. ``assignments``: the event's own assignment, and one for
    every earlier event whose session id changed (a merge or a split). ``session_id_of_event`` is "" when the
    event was not sessionized: a duplicate, too late, or an event that takes no part in sessions.
    """

    rows: tuple[SessionRow, ...] = ()
    assignments: tuple[EventAssignment, ...] = ()
    session_id_of_event: str = ""
    too_late: bool = False
    duplicate: bool = False
