"""Source adapters: each reads one kind of ``RawHit`` into the same ``HitFields``. Pure, no I/O.

Everything after this point (the steps) is shared by every source, so a rule holds for all of them.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from schemas.browser import BrowserEvent
from schemas.dead_letters import DropReason
from schemas.email import EmailInteraction
from schemas.events import Consent, HitSource, RawHit
from schemas.segment import SegmentMessage
from schemas.snowplow import EVENT_NAMES as SNOWPLOW_EVENT_NAMES
from schemas.snowplow import PROPERTY_PARAMETERS as SNOWPLOW_PROPERTY_PARAMETERS
from schemas.snowplow import SelfDescribingData, SelfDescribingEvent
from schemas.validation import first_problem
from stream_processors.normalize.steps import Drop, HitFields

PIXEL_PROPERTY_PREFIX = "p."
DEFAULT_EVENT_NAME = "page_view"
SEGMENT_EVENT_NAMES = {"page": "page_view", "screen": "screen_view", "identify": "identify", "group": "group",
                       "alias": "alias"}  # fmt: skip


def pixel_fields(hit: RawHit) -> HitFields | Drop:
    """The pixel's query parameters (docs/tracking-api.md)."""
    query = hit.query
    try:
        client_time = _milliseconds(query.get("ts"))
        sent_at = _milliseconds(query.get("st"))
    except ValueError as error:
        return Drop(DropReason.INVALID_TIMESTAMP, str(error))
    event_name = query.get("e", DEFAULT_EVENT_NAME)
    consent = stated_consent(query.get("consent"))
    if isinstance(consent, Drop):
        return consent
    return HitFields(
        hit=hit,
        event_id=query.get("eid"),
        event_name=event_name,
        url=query.get("url") or hit.referer,
        referrer=query.get("ref", ""),
        anonymous_id=query.get("aid", ""),
        user_id=query.get("uid", ""),
        client_time=client_time,
        sent_at=sent_at,
        properties={
            name.removeprefix(PIXEL_PROPERTY_PREFIX): value
            for name, value in query.items()
            if name.startswith(PIXEL_PROPERTY_PREFIX)
        },
        user_agent=hit.user_agent,
        ip=hit.ip,
        url_required=event_name == DEFAULT_EVENT_NAME,  # a pixel page view is about its page
        event_id_must_be_uuid=True,
        consent=consent,
    )


def segment_fields(hit: RawHit) -> HitFields | Drop:
    """A Segment API message: track/page/screen/identify/group/alias."""
    try:
        message = SegmentMessage.model_validate_json(hit.body or "")
    except ValidationError as error:
        return _invalid_message(error)
    page = message.context.get("page")
    page = page if isinstance(page, dict) else {}
    # RudderStack's SDKs put identify traits in context.traits; Segment's at the top. Both are honoured.
    context_traits = message.context.get("traits") if message.type == "identify" else None
    traits = {**(context_traits if isinstance(context_traits, dict) else {}), **message.traits}
    properties = traits if message.type in ("identify", "group") else message.properties
    extra = {
        "name": message.name,
        "category": message.category,
        "group_id": message.group_id,
        "previous_id": message.previous_id,
    }
    try:
        client_time, sent_at = _utc(message.timestamp), _utc(message.sent_at or hit.sent_at)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-10:00: valid ISO 8601, but after year 9999 in UTC
        return Drop(DropReason.INVALID_TIMESTAMP, "timestamp or sentAt is out of range in UTC")
    return HitFields(
        hit=hit,
        event_id=message.message_id,
        event_name=message.event if message.type == "track" and message.event else SEGMENT_EVENT_NAMES[message.type],
        url=str(page.get("url") or message.properties.get("url") or ""),
        referrer=str(page.get("referrer") or message.properties.get("referrer") or ""),
        anonymous_id=message.anonymous_id or "",
        user_id=message.user_id or "",
        client_time=client_time,
        sent_at=sent_at,
        properties={
            **{name: _as_text(value) for name, value in properties.items()},
            **{name: value for name, value in extra.items() if value},
        },
        user_agent=str(message.context.get("userAgent") or hit.user_agent),
        ip=str(message.context.get("ip") or hit.ip),
        consent=segment_consent(message.context.get("consent")),
    )


def browser_fields(hit: RawHit) -> HitFields | Drop:
    """A browser API event (schemas/browser.py)."""
    try:
        event = BrowserEvent.model_validate_json(hit.body or "")
        client_time = _milliseconds(None if event.timestamp is None else str(event.timestamp))
    except ValidationError as error:
        return _invalid_message(error)
    except ValueError as error:
        return Drop(DropReason.INVALID_TIMESTAMP, str(error))
    return HitFields(
        hit=hit,
        event_id=event.event_id,
        event_name=event.name,
        url=event.url or hit.referer,
        referrer=event.referrer or "",
        anonymous_id=event.anonymous_id or "",
        user_id=event.user_id or "",
        client_time=client_time,
        sent_at=hit.sent_at,
        properties={name: _as_text(value) for name, value in event.properties.items()},
        user_agent=hit.user_agent,
        ip=hit.ip,
        url_required=event.name == DEFAULT_EVENT_NAME,
        event_id_must_be_uuid=True,
        consent=Consent(event.consent) if event.consent else Consent.UNKNOWN,
    )


def email_fields(hit: RawHit) -> HitFields | Drop:
    """An email open or click, already verified by the collector (its signature held)."""
    try:
        interaction = EmailInteraction.model_validate_json(hit.body or "")
    except ValidationError as error:
        return _invalid_message(error)
    properties = {
        "campaign_id": interaction.campaign_id,
        "message_id": interaction.message_id,
        "recipient_id": interaction.recipient_id,
    }
    if interaction.url:
        properties["url"] = interaction.url
    return HitFields(
        hit=hit,
        event_id=None,  # every open or click is its own event (unique opens are counted downstream)
        event_name="email_clicked" if interaction.kind == "click" else "email_opened",
        url=interaction.url or "",
        referrer="",
        anonymous_id="",
        user_id=interaction.recipient_id,
        client_time=None,
        sent_at=None,
        properties=properties,
        user_agent=hit.user_agent,  # kept: mail-provider proxies and scanners are told apart by it downstream
        ip=hit.ip,
    )


def snowplow_fields(hit: RawHit) -> HitFields | Drop:
    """One event of Snowplow's tracker protocol (schemas/snowplow.py), from ``/i`` or a tp2 POST."""
    parameters = hit.query
    kind = parameters.get("e", "")
    try:
        client_time = _milliseconds(parameters.get("ttm") or parameters.get("dtm"))
        sent_at = _milliseconds(parameters.get("stm"))
    except ValueError as error:
        return Drop(DropReason.INVALID_TIMESTAMP, str(error))
    properties = {
        readable: parameters[short] for short, readable in SNOWPLOW_PROPERTY_PARAMETERS.items() if short in parameters
    }
    if kind in SNOWPLOW_EVENT_NAMES:
        event_name = SNOWPLOW_EVENT_NAMES[kind]
    elif kind == "se":
        event_name = parameters.get("se_ac") or "structured_event"
    elif kind == "ue":
        described = _self_describing(parameters)
        if isinstance(described, Drop):
            return described
        event_name = described.event_name
        properties |= {name: _as_text(value) for name, value in described.data.items()}
        properties["schema"] = described.schema_uri
    else:
        return Drop(DropReason.INVALID_MESSAGE, f"unknown tracker-protocol event type e={kind[:20]!r}")
    return HitFields(
        hit=hit,
        event_id=parameters.get("eid"),
        event_name=event_name,
        url=parameters.get("url", ""),
        referrer=parameters.get("refr", ""),
        anonymous_id=parameters.get("duid") or parameters.get("nuid") or "",
        user_id=parameters.get("uid", ""),
        client_time=client_time,
        sent_at=sent_at,
        properties=properties,
        user_agent=parameters.get("ua") or hit.user_agent,
        ip=parameters.get("ip") or hit.ip,
        url_required=kind == "pv",
        event_id_must_be_uuid=True,
    )


def stated_consent(value: str | None) -> Consent | Drop:
    """``granted`` or ``denied`` as a sender states it (absent: ``unknown``); anything else is refused."""
    if not value:
        return Consent.UNKNOWN
    if value in (Consent.GRANTED, Consent.DENIED):
        return Consent(value)
    return Drop(DropReason.INVALID_MESSAGE, f"consent must be 'granted' or 'denied', not {value[:20]!r}")


def segment_consent(consent: object) -> Consent:
    """Segment's ``context.consent.categoryPreferences`` ({category: bool}) as one state."""
    preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    if not isinstance(preferences, dict) or not preferences:
        return Consent.UNKNOWN
    granted = [value is True for value in preferences.values()]
    if all(granted):
        return Consent.GRANTED
    return Consent.PARTIAL if any(granted) else Consent.DENIED


def _self_describing(parameters: dict[str, str]) -> SelfDescribingData | Drop:
    encoded = parameters.get("ue_px")
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) if encoded else parameters.get("ue_pr")
        return SelfDescribingEvent.model_validate_json(text or "").data
    except ValidationError as error:
        return _invalid_message(error)
    except ValueError as error:  # base64 that is not
        return Drop(DropReason.INVALID_MESSAGE, f"ue_px: {error}")


SOURCE_ADAPTERS = {HitSource.PIXEL: pixel_fields, HitSource.SEGMENT: segment_fields, HitSource.BROWSER: browser_fields,
                   HitSource.EMAIL: email_fields, HitSource.SNOWPLOW: snowplow_fields}  # fmt: skip


def _invalid_message(error: ValidationError) -> Drop:
    return Drop(DropReason.INVALID_MESSAGE, first_problem(error))


def _as_text(value: object) -> str:
    """Property values are stored as text: strings as they are, everything else as its JSON."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: valid JSON that orjson cannot write
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _milliseconds(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"timestamps are integer milliseconds since the epoch: {value[:32]!r}") from None
