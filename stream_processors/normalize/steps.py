"""The steps that turn a ``RawHit`` into an ``Event``. Each is pure: ``step(hit, draft) -> draft | Drop``.

The parameter names are the pixel's tracking API (docs/tracking-api.md).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from schemas.dead_letters import DropReason
from schemas.events import RawHit

DEFAULT_EVENT_NAME = "page_view"
EVENTS_NEEDING_URL = frozenset({"page_view"})
PROPERTY_PREFIX = "p."
MAX_PROPERTIES = 64
MAX_PROPERTY_NAME_LENGTH = 128
MAX_PROPERTY_VALUE_LENGTH = 2048
_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,99}$")
_EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_CLIENT_CLOCK_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class Drop:
    reason: DropReason
    detail: str


@dataclass(frozen=True)
class EventDraft:
    """An event under construction; ``to_event`` in the pipeline checks that every step filled its part."""

    event_id: UUID | None = None
    site_id: str = ""
    event_name: str = ""
    event_time: datetime | None = None
    anonymous_id: str = ""
    user_id: str = ""
    url: str = ""
    referrer: str = ""
    ip: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def require_site_id(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    site_id = hit.site_id.strip()
    if not site_id:
        return Drop(DropReason.MISSING_SITE_ID, "the 'site' parameter is required")
    return replace(draft, site_id=site_id)


def put_event_id(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    """The client's ``eid`` makes retries idempotent; without one, the collector's hit id stands in."""
    given = hit.query.get("eid")
    if given is None:
        return replace(draft, event_id=hit.hit_id)
    try:
        return replace(draft, event_id=UUID(given))
    except ValueError:
        return Drop(DropReason.INVALID_EVENT_ID, f"'eid' is not a UUID: {given[:64]!r}")


def put_event_name(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    name = hit.query.get("e", DEFAULT_EVENT_NAME)
    if not _EVENT_NAME.match(name):
        return Drop(
            DropReason.INVALID_EVENT_NAME,
            f"'e' must start with a letter and use at most 100 of [A-Za-z0-9_.:-]: {name[:120]!r}",
        )
    return replace(draft, event_name=name)


def put_url(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    """The page URL from ``url``, else from the Referer header (the page that loaded the pixel)."""
    url = hit.query.get("url") or hit.referer
    if not url:
        if draft.event_name in EVENTS_NEEDING_URL:
            return Drop(DropReason.MISSING_URL, f"a {draft.event_name} needs the 'url' parameter")
        return draft
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Drop(DropReason.INVALID_URL, f"'url' must be an absolute http(s) URL: {url[:200]!r}")
    return replace(draft, url=url)


def put_identity(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    return replace(draft, anonymous_id=hit.query.get("aid", ""), user_id=hit.query.get("uid", ""))


def put_referrer(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    return replace(draft, referrer=hit.query.get("ref", ""))


def put_event_time(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    """Event time on the server's clock: receipt time minus the event's age as the client measured it.

    With ``ts`` (client event time) and ``st`` (client send time) the client's clock offset cancels out;
    with ``ts`` alone it is trusted but never placed after receipt; with neither, receipt time is used.
    """
    try:
        client_time = _milliseconds(hit.query.get("ts"))
        sent_at = _milliseconds(hit.query.get("st"))
    except ValueError as error:
        return Drop(DropReason.INVALID_TIMESTAMP, str(error))
    if client_time is None:
        return replace(draft, event_time=hit.received_at)
    if client_time < _EARLIEST_EVENT_TIME or client_time > hit.received_at + _MAX_CLIENT_CLOCK_AHEAD:
        return Drop(DropReason.INVALID_TIMESTAMP, f"'ts' is out of range: {client_time.isoformat()}")
    if sent_at is not None:
        age = max(sent_at - client_time, timedelta(0))
        return replace(draft, event_time=hit.received_at - age)
    return replace(draft, event_time=min(client_time, hit.received_at))


def put_properties(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    properties = {
        name.removeprefix(PROPERTY_PREFIX): value
        for name, value in hit.query.items()
        if name.startswith(PROPERTY_PREFIX)
    }
    if len(properties) > MAX_PROPERTIES:
        return Drop(DropReason.INVALID_PROPERTY, f"at most {MAX_PROPERTIES} properties, got {len(properties)}")
    for name, value in properties.items():
        if not name or len(name) > MAX_PROPERTY_NAME_LENGTH or len(value) > MAX_PROPERTY_VALUE_LENGTH:
            return Drop(
                DropReason.INVALID_PROPERTY,
                f"property {name[:40]!r}: names are 1-{MAX_PROPERTY_NAME_LENGTH} characters, "
                f"values at most {MAX_PROPERTY_VALUE_LENGTH}",
            )
    return replace(draft, properties=properties)


def anonymise_ip(hit: RawHit, draft: EventDraft) -> EventDraft | Drop:
    """Keep only the network part of the address (IPv4 /24, IPv6 /48); the full address is never stored."""
    try:
        address = ipaddress.ip_address(hit.ip)
    except ValueError:
        return replace(draft, ip="")
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return replace(draft, ip=str(network.network_address))


def _milliseconds(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"timestamps are integer milliseconds since the epoch: {value[:32]!r}") from None
