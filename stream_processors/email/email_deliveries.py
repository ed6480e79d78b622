"""A recipient's email messages, as the stream keeps them (pure): touches in, delivery figures out.

A person's state keeps, per message, its sends, opens and clicks (``EmailTouch``), and the person's purchases.
The figures of a message (``DeliveryFigures``) are a function of that set alone, never of the order it
arrived in, so a late ``email_sent`` reclassifies opens made "too soon" after it, and a late click can take a
purchase's attribution. Duplicates change nothing: a touch already kept is skipped.

Machine opens and clicks are classified, not dropped (the reasons, in order):
``apple_privacy_proxy`` and ``scanner_network`` (who fetched: ``enrich/mail_fetchers.py``),
``too_soon_after_send`` (within ``scanner_seconds`` of the send: no person is that fast, a scanner is),
``proxy_refetch`` (an image proxy's fetch of a message after its first one),
``click_burst`` (``burst_links`` different links clicked within ``burst_seconds``: a scanner follows them all).
A purchase counts as a conversion of the message whose human click is the person's last before it, within
``conversion_days`` (last touch). ``email_sql.py`` computes the same figures in ClickHouse.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.email import EmailDelivery
from schemas.events import Event, MailFetcher
from stream_processors.visitors.track_event import CONVERSION_EVENTS, milliseconds

SENT, OPENED, CLICKED = "email_sent", "email_opened", "email_clicked"
PROXIES = frozenset({MailFetcher.GMAIL_IMAGE_PROXY.value, MailFetcher.YAHOO_IMAGE_PROXY.value})
MAX_TOUCHES_PER_MESSAGE = 200
MAX_MESSAGES = 200
MAX_PURCHASES = 100


@dataclass(frozen=True)
class EmailRules:
    scanner_seconds: float = 10.0
    burst_links: int = 3
    burst_seconds: float = 2.0
    conversion_days: float = 7.0

    @property
    def conversion_ms(self) -> int:
        return round(self.conversion_days * 86_400_000)


@dataclass(frozen=True, slots=True, order=True)
class EmailTouch:
    ms: int
    name: str  # email_sent, email_opened or email_clicked
    fetcher: str  # MailFetcher value ('' for sends)
    url: str
    key: str  # the event's id (16 hex digits): a touch delivered twice is kept once


@dataclass(frozen=True, slots=True)
class EmailMessage:
    campaign_id: str
    message_id: str
    version: int  # delivery rows emitted for it so far
    touches: tuple[EmailTouch, ...]  # sorted


@dataclass(frozen=True, slots=True, order=True)
class Purchase:
    ms: int
    key: str
    revenue: float


@dataclass(frozen=True, slots=True)
class PersonEmail:
    messages: tuple[EmailMessage, ...] = ()
    purchases: tuple[Purchase, ...] = ()  # sorted


@dataclass(frozen=True, slots=True)
class DeliveryFigures:
    sent_ms: int | None
    opens: int
    human_opens: int
    clicks: int
    human_clicks: int
    first_open_ms: int | None
    first_human_open_ms: int | None
    first_click_ms: int | None
    first_human_click_ms: int | None
    machine_reasons: tuple[str, ...]
    conversions: int
    conversion_revenue: float


def track_email(
    state: PersonEmail, event: Event, rules: EmailRules, now: datetime
) -> tuple[PersonEmail, tuple[EmailDelivery, ...]]:
    """Count ``event`` if it is an email touch or a purchase; the deliveries whose figures it changed."""
    added = _with_event(state, event)
    if added is None:
        return state, ()
    before = all_figures(state, rules)
    after = all_figures(added, rules)
    changed = [message for message in added.messages if after[_id(message)] != before.get(_id(message))]
    if not changed:
        return added, ()
    versions = {_id(message): message.version + 1 for message in changed}
    messages = tuple(
        EmailMessage(m.campaign_id, m.message_id, versions[_id(m)], m.touches) if _id(m) in versions else m
        for m in added.messages
    )
    deliveries = tuple(
        _delivery(event, message.campaign_id, message.message_id, versions[_id(message)], after[_id(message)], now)
        for message in changed
    )
    return PersonEmail(messages, added.purchases), deliveries


def all_figures(state: PersonEmail, rules: EmailRules) -> dict[tuple[str, str], DeliveryFigures]:
    """The figures of each of the person's messages (conversions need them all: last touch is across messages)."""
    classified = {_id(message): _classify(message.touches, rules) for message in state.messages}
    conversions = _attribute(state.purchases, classified, rules)
    return {
        message_id: _figures(touches, conversions.get(message_id, (0, 0.0)))
        for message_id, touches in classified.items()
    }


def email_touch_of(event: Event) -> tuple[str, str, EmailTouch] | None:
    if event.event_name not in (SENT, OPENED, CLICKED):
        return None
    properties = event.properties
    touch = EmailTouch(
        milliseconds(event.event_time),
        event.event_name,
        event.mail_fetcher.value,
        event.url if event.event_name == CLICKED else "",
        event.event_id.hex[:16],
    )
    return properties.get("campaign_id", ""), properties.get("message_id", ""), touch


def purchase_of(event: Event) -> Purchase | None:
    if event.event_name not in CONVERSION_EVENTS:
        return None
    return Purchase(milliseconds(event.event_time), event.event_id.hex[:16], revenue_of(event))


def revenue_of(event: Event) -> float:
    """As ``toFloat64OrZero(properties['revenue'])`` reads it."""
    try:
        revenue = float(event.properties.get("revenue", "0"))
    except ValueError:
        return 0.0
    return revenue if revenue == revenue and abs(revenue) != float("inf") else 0.0  # (NaN and infinities: 0)


def _with_event(state: PersonEmail, event: Event) -> PersonEmail | None:
    """The state with the event's touch or purchase added; None if it is neither, or already there."""
    if (purchase := purchase_of(event)) is not None:  # (kept even before any email: a click may come late)
        if any(kept.key == purchase.key for kept in state.purchases):
            return None
        purchases = list(state.purchases)
        insort(purchases, purchase)
        return PersonEmail(state.messages, tuple(purchases[-MAX_PURCHASES:]))
    found = email_touch_of(event)
    if found is None:
        return None
    campaign_id, message_id, touch = found
    messages = list(state.messages)
    for index, message in enumerate(messages):
        if (message.campaign_id, message.message_id) == (campaign_id, message_id):
            if any(kept.key == touch.key for kept in message.touches):
                return None
            touches = list(message.touches)
            insort(touches, touch)
            messages[index] = EmailMessage(
                campaign_id, message_id, message.version, tuple(touches[-MAX_TOUCHES_PER_MESSAGE:])
            )
            return PersonEmail(tuple(messages), state.purchases)
    messages.append(EmailMessage(campaign_id, message_id, 0, (touch,)))
    return PersonEmail(tuple(messages[-MAX_MESSAGES:]), state.purchases)


Classified = tuple[tuple[EmailTouch, str], ...]  # each open or click with its machine reason ('' for a person)


def _classify(touches: tuple[EmailTouch, ...], rules: EmailRules) -> tuple[int | None, Classified]:
    sends = [touch.ms for touch in touches if touch.name == SENT]
    sent_ms = min(sends) if sends else None
    clicks = [touch for touch in touches if touch.name == CLICKED]
    fetched_by_proxy: set[str] = set()
    classified = []
    for touch in touches:  # sorted: a proxy's first fetch comes first
        if touch.name == SENT:
            continue
        reason = ""
        if touch.fetcher == MailFetcher.APPLE_PRIVACY_PROXY.value:
            reason = "apple_privacy_proxy"
        elif touch.fetcher == MailFetcher.SCANNER.value:
            reason = "scanner_network"
        elif sent_ms is not None and touch.ms < sent_ms + rules.scanner_seconds * 1000:
            reason = "too_soon_after_send"
        elif touch.name == OPENED and touch.fetcher in PROXIES:
            reason = "proxy_refetch" if touch.fetcher in fetched_by_proxy else ""
        elif touch.name == CLICKED and _in_burst(touch, clicks, rules):
            reason = "click_burst"
        if touch.name == OPENED and touch.fetcher in PROXIES:
            fetched_by_proxy.add(touch.fetcher)
        classified.append((touch, reason))
    return sent_ms, tuple(classified)


def _in_burst(click: EmailTouch, clicks: list[EmailTouch], rules: EmailRules) -> bool:
    reach = rules.burst_seconds * 1000
    links = {other.url for other in clicks if abs(other.ms - click.ms) <= reach}
    return len(links) >= rules.burst_links


def _attribute(
    purchases: Iterable[Purchase],
    classified: dict[tuple[str, str], tuple[int | None, Classified]],
    rules: EmailRules,
) -> dict[tuple[str, str], tuple[int, float]]:
    human_clicks = sorted(
        (touch.ms, message_id)
        for message_id, (_, touches) in classified.items()
        for touch, reason in touches
        if touch.name == CLICKED and not reason
    )
    conversions: dict[tuple[str, str], tuple[int, float]] = {}
    for purchase in purchases:
        before = [(ms, message_id) for ms, message_id in human_clicks if ms <= purchase.ms]
        if not before or purchase.ms - before[-1][0] > rules.conversion_ms:
            continue
        count, revenue = conversions.get(before[-1][1], (0, 0.0))
        conversions[before[-1][1]] = (count + 1, revenue + purchase.revenue)
    return conversions


def _figures(classified: tuple[int | None, Classified], conversion: tuple[int, float]) -> DeliveryFigures:
    sent_ms, touches = classified
    opens = [(touch.ms, reason) for touch, reason in touches if touch.name == OPENED]
    clicks = [(touch.ms, reason) for touch, reason in touches if touch.name == CLICKED]
    return DeliveryFigures(
        sent_ms=sent_ms,
        opens=len(opens),
        human_opens=sum(1 for _, reason in opens if not reason),
        clicks=len(clicks),
        human_clicks=sum(1 for _, reason in clicks if not reason),
        first_open_ms=min((ms for ms, _ in opens), default=None),
        first_human_open_ms=min((ms for ms, reason in opens if not reason), default=None),
        first_click_ms=min((ms for ms, _ in clicks), default=None),
        first_human_click_ms=min((ms for ms, reason in clicks if not reason), default=None),
        machine_reasons=tuple(sorted({reason for _, reason in touches if reason})),
        conversions=conversion[0],
        conversion_revenue=round(conversion[1], 6),
    )


def _delivery(
    event: Event, campaign_id: str, message_id: str, version: int, figures: DeliveryFigures, now: datetime
) -> EmailDelivery:
    return EmailDelivery(
        site_id=event.site_id,
        campaign_id=campaign_id,
        message_id=message_id,
        recipient_id=event.person_id,
        version=version,
        sent_at=_moment(figures.sent_ms),
        opens=figures.opens,
        human_opens=figures.human_opens,
        clicks=figures.clicks,
        human_clicks=figures.human_clicks,
        opened=figures.opens + figures.clicks > 0,
        human_opened=figures.human_opens + figures.human_clicks > 0,
        clicked=figures.clicks > 0,
        human_clicked=figures.human_clicks > 0,
        first_open_at=_moment(figures.first_open_ms),
        first_human_open_at=_moment(figures.first_human_open_ms),
        first_click_at=_moment(figures.first_click_ms),
        first_human_click_at=_moment(figures.first_human_click_ms),
        machine_reasons=list(figures.machine_reasons),
        conversions=figures.conversions,
        conversion_revenue=figures.conversion_revenue,
        updated_at=now,
    )


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _id(message: EmailMessage) -> tuple[str, str]:
    return message.campaign_id, message.message_id
