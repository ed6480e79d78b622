"""The event types at each boundary: ``RawHit`` (what came over HTTP) -> ``Event`` (validated, canonical)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_MESSAGE_BYTES = 32 * 1024  # one JSON message, whichever API it came through
MAX_BATCH_BYTES = 500 * 1024  # one JSON request body


NO_SESSION = UUID(int=0)  # the session id of events in no session (email events, too-late events)


def _in_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# A moment of Beacon's own records: always aware. One without a zone is UTC, as ClickHouse's DateTime64(3, 'UTC')
# columns read by clickhouse-connect (an event replayed from the warehouse) and Beacon's own JSON mean it.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class HitSource(StrEnum):
    """Which collector endpoint received a hit."""

    PIXEL = "pixel"
    SEGMENT = "segment"
    BROWSER = "browser"
    EMAIL = "email"
    SNOWPLOW = "snowplow"


class Consent(StrEnum):
    """What the visitor said about tracking, as the sender reported it (``unknown`` when it did not say).

    The JS tracker sends nothing at all while consent is denied; server-side senders may still send events
    flagged ``denied`` (for example strictly necessary ones), so analysts can include or exclude them.
    """

    GRANTED = "granted"
    DENIED = "denied"
    PARTIAL = "partial"  # some consent categories granted, others not (Segment's categoryPreferences)
    UNKNOWN = "unknown"


class DeviceType(StrEnum):
    """The kind of device an event came from, read from its User-Agent by the enrich stage."""

    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"
    BOT = "bot"  # every event flagged ``is_bot``, whatever the device it claims to be
    OTHER = "other"  # a TV, a console, a mail client, an HTTP library, or a User-Agent nothing recognises
    UNKNOWN = ""  # not enriched: events that passed before the enrich stage existed


class BotReason(StrEnum):
    """Why an event was flagged as a bot's; bots are flagged, never dropped."""

    NONE = ""
    CRAWLER_USER_AGENT = "crawler_user_agent"  # a known crawler, spider or link previewer (crawlerdetect)
    HEADLESS_BROWSER = "headless_browser"  # HeadlessChrome, PhantomJS, jsdom, an anonymous Electron shell
    AUTOMATION_TOOL = "automation_tool"  # curl, wget, an HTTP library, sent from a browser-side API
    EMPTY_USER_AGENT = "empty_user_agent"  # a browser or pixel hit without a User-Agent
    DATACENTER_IP = "datacenter_ip"  # the client's network is a cloud or hosting provider's
    HIGH_HIT_RATE = "high_hit_rate"  # behaviour: set later by the stateful sessionizer, not by enrichment


class MailFetcher(StrEnum):
    """Who fetched an email's open pixel or followed its link, as the request tells (email events only)."""

    NONE = ""  # not an email open or click
    MAIL_CLIENT = "mail_client"  # a person's mail app or webmail, fetching directly
    APPLE_PRIVACY_PROXY = "apple_privacy_proxy"  # Apple Mail Privacy Protection: prefetched, opened or not
    GMAIL_IMAGE_PROXY = "gmail_image_proxy"  # Gmail fetches through its proxy when the person opens the email
    YAHOO_IMAGE_PROXY = "yahoo_image_proxy"
    SCANNER = "scanner"  # a security scanner or bot: a datacenter network, a crawler or an HTTP tool


class Channel(StrEnum):
    """How the visitor came, in the spirit of GA4's default channel grouping (docs/analysts.md has the rules)."""

    DIRECT = "direct"
    SEARCH = "search"
    SOCIAL = "social"
    EMAIL = "email"
    PAID = "paid"
    REFERRAL = "referral"
    INTERNAL = "internal"  # the referrer is the same site: a navigation within it
    UNKNOWN = ""  # not enriched: events that passed before the enrich stage existed


class RawHit(BaseModel):
    """One request to the collector, unvalidated: everything needed to validate it later or replay it."""

    model_config = ConfigDict(frozen=True)

    hit_id: UUID  # assigned by the collector on receipt; the event_id of last resort
    source: HitSource
    received_at: datetime
    site_id: str  # as sent (pixel) or as authenticated (write key); may be empty: the stream checks
    visitor_key: str = ""  # the anonymous (else user) id as sent, for the partition key only
    query: dict[str, str] = Field(default_factory=dict)  # URL parameters (pixel)
    body: str | None = None  # one JSON message (Segment API), exactly as received
    sent_at: datetime | None = None  # the client's send time for the whole request, if it said
    ip: str  # the client's full address: it travels to the normalize step only, which anonymises it
    user_agent: str
    referer: str
    accept_language: str = ""
    do_not_track: bool = False  # the DNT: 1 header
    global_privacy_control: bool = False  # the Sec-GPC: 1 header

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.visitor_key}".encode()

    def to_json(self) -> bytes:
        """The Kafka record: orjson over the fields, the same JSON as ``model_dump_json`` (a unit test checks
        it) in a quarter of the time, which matters on the pixel's path."""
        return orjson.dumps(self.__dict__)


class Event(BaseModel):
    """A validated event in Beacon's canonical form; what every downstream agent and table consumes."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    site_id: str = Field(min_length=1)
    event_name: str = Field(min_length=1)
    event_time: UtcDatetime
    received_at: UtcDatetime
    anonymous_id: str
    user_id: str
    url: str
    referrer: str
    user_agent: str
    ip: str  # anonymised before it ever reaches this type
    locale: str = ""  # the browser's first language, e.g. "en-gb"
    do_not_track: bool = False
    global_privacy_control: bool = False
    consent: Consent = Consent.UNKNOWN
    properties: dict[str, str]
    source: HitSource
    time_clamped: bool = False  # the client's time was after receipt (or after its send time): receipt time used
    # Added by the enrich stage (stream_processors/enrich/); the defaults are what an un-enriched event says.
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device_type: DeviceType = DeviceType.UNKNOWN
    is_bot: bool = False
    bot_reason: BotReason = BotReason.NONE
    country: str = ""  # ISO 3166-1 alpha-2, looked up from the full IP before it was masked
    region: str = ""  # ISO 3166-2 subdivision code, e.g. "US-CA" (only with a MaxMind City database)
    city: str = ""  # English name (only with a MaxMind City database)
    channel: Channel = Channel.UNKNOWN
    referrer_host: str = ""
    referrer_source: str = ""  # "Google", "Facebook"... from the referrer list; "" for other hosts
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    click_id_type: str = ""  # which ad click id the page URL carried, e.g. "gclid"
    visitor_hash: str = ""  # the cookieless visitor id (daily salted), only for events with no visitor id
    mail_fetcher: MailFetcher = MailFetcher.NONE  # email opens and clicks: who fetched (a person, a proxy, a bot)
    # Added by the visitor stage (stream_processors/visitors/).
    visitor_id: str = ""  # whose sessions it is in: the anonymous id, else the user id, else the visitor hash
    session_id: UUID = NO_SESSION  # the session it joined when processed (NO_SESSION: not sessionized)
    too_late: bool = False  # it arrived after the allowed lateness: kept, but in no session

    @property
    def person_id(self) -> str:
        """Whose profile, funnels and segments the event counts for: the user id when known, else the visitor."""
        return self.user_id or self.visitor_id

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.person_id}".encode()
