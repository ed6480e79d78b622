"""The event types at each boundary: ``RawHit`` (what came over HTTP) -> ``Event`` (validated, canonical)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_BYTES = 32 * 1024  # one JSON message, whichever API it came through
MAX_BATCH_BYTES = 500 * 1024  # one JSON request body


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
    event_time: datetime
    received_at: datetime
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

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.anonymous_id}".encode()
