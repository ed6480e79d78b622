"""The steps that add what an ``Event`` does not say by itself: ``step(subject, draft, context) -> draft``.

Every step is pure given the context's lookups, never drops an event (bots are flagged, not dropped) and
turns an unusable input into empty fields.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from schemas.events import BotReason, Channel, DeviceType, Event, HitSource, MailFetcher, RawHit
from stream_processors.enrich.bots import bot_reason_of
from stream_processors.enrich.campaigns import ChannelClues, campaign_tags, channel_of
from stream_processors.enrich.context import EnrichContext
from stream_processors.enrich.hosting_networks import HOSTING_NETWORKS
from stream_processors.enrich.ip_lookup import canonical_ip
from stream_processors.enrich.mail_fetchers import mail_fetcher_of
from stream_processors.enrich.referrers import known_referrer, referrer_host
from stream_processors.enrich.user_agents import parse_user_agent
from stream_processors.enrich.visitor_hashes import visitor_hash
from stream_processors.normalize.sources import SOURCE_ADAPTERS
from stream_processors.normalize.steps import Drop


class EnrichSubject(NamedTuple):
    """The event and what the steps read from its raw hit, parsed once."""

    event: Event
    client_ip: str  # the full address, canonical, or "" (event.ip is already masked)
    page_host: str
    page_query: str


class EnrichmentDraft(NamedTuple):
    """The fields the steps fill (the ``Event``'s, by the same names) and two that only travel between steps."""

    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device_type: DeviceType = DeviceType.OTHER
    is_bot: bool = False
    bot_reason: BotReason = BotReason.NONE
    country: str = ""
    region: str = ""
    city: str = ""
    channel: Channel = Channel.DIRECT
    referrer_host: str = ""
    referrer_source: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    click_id_type: str = ""
    visitor_hash: str = ""
    mail_fetcher: MailFetcher = MailFetcher.NONE
    network: str = ""  # the IP's autonomous system, for the bot step; not stored
    referrer_medium: str = ""  # the referrer list's medium, for the channel step; not stored


EVENT_FIELDS = tuple(name for name in EnrichmentDraft._fields if name in Event.model_fields)


def subject_of(event: Event, hit: RawHit) -> EnrichSubject:
    page = _split(event.url)
    return EnrichSubject(
        event=event,
        client_ip=canonical_ip(client_ip(hit)),
        page_host=(page.hostname or "") if page else "",
        page_query=page.query if page else "",
    )


def client_ip(hit: RawHit) -> str:
    """The visitor's full address as the normalize step read it: Segment's ``context.ip`` and Snowplow's
    ``ip`` parameter before the request's (which is the sender's back end for server-side events)."""
    if hit.source not in (HitSource.SEGMENT, HitSource.SNOWPLOW):
        return hit.ip
    fields = SOURCE_ADAPTERS[hit.source](hit)
    return "" if isinstance(fields, Drop) else fields.ip


def put_user_agent(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    details = parse_user_agent(subject.event.user_agent)
    return draft._replace(
        browser=details.browser,
        browser_version=details.browser_version,
        os=details.os,
        os_version=details.os_version,
        device_type=details.device_type,
    )


def put_geolocation(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    """From the full address: the event's own ``ip`` was masked by normalize, after which a /24 can straddle
    countries."""
    facts = context.ip_lookup(subject.client_ip)
    return draft._replace(country=facts.country, region=facts.region, city=facts.city, network=facts.network)


def flag_bot(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    event = subject.event
    reason = bot_reason_of(event.user_agent, event.source, datacenter_ip=draft.network in HOSTING_NETWORKS)
    if reason is BotReason.NONE:
        return draft
    return draft._replace(is_bot=True, bot_reason=reason, device_type=DeviceType.BOT)


def put_mail_fetcher(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    """Email opens and clicks only; needs ``put_geolocation`` (the network) and ``flag_bot`` first."""
    event = subject.event
    if event.source is not HitSource.EMAIL:
        return draft
    return draft._replace(mail_fetcher=mail_fetcher_of(event.user_agent, draft.network, draft.is_bot))


def put_referrer(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    host = referrer_host(subject.event.referrer)
    known = known_referrer(context.referrers, host) if host else None
    if known is None:
        return draft._replace(referrer_host=host)
    return draft._replace(referrer_host=host, referrer_source=known.source, referrer_medium=known.medium)


def put_utm_tags(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    return draft._replace(**campaign_tags(subject.page_query)._asdict())


def put_channel(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    """Needs ``put_referrer`` and ``put_utm_tags`` first."""
    clues = ChannelClues(
        utm_source=draft.utm_source,
        utm_medium=draft.utm_medium,
        click_id_type=draft.click_id_type,
        source=subject.event.source,
        referrer_host=draft.referrer_host,
        referrer_medium=draft.referrer_medium,
        page_host=subject.page_host,
    )
    return draft._replace(channel=channel_of(clues))


def put_visitor_hash(subject: EnrichSubject, draft: EnrichmentDraft, context: EnrichContext) -> EnrichmentDraft:
    """Only for events without a visitor id of their own, and with an address to hash."""
    event = subject.event
    if event.anonymous_id or event.user_id or not subject.client_ip:
        return draft
    salt = context.salt_for(utc_day(event.received_at))
    return draft._replace(visitor_hash=visitor_hash(salt, event.site_id, subject.client_ip, event.user_agent))


def utc_day(moment: datetime) -> date:
    """The UTC date the visitor-hash salt belongs to: the collector's receipt time, which no client can set
    and which a replay of the raw hit keeps."""
    if moment.tzinfo is None:
        return moment.date()
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:  # a time within hours of year 1 or 9999
        return moment.date()


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal, "http://[::1"
        return None
