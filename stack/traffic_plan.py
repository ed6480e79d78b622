"""Plan realistic traffic for a site: pure and seeded (``schemas.traffic``), so a run is reproducible.

Visitors arrive through a channel (direct, search, social, paid or an email campaign), browse pages with
engaged time and scroll depth (page pings, as the JS tracker sends them: each names its page view by
``page_view_id``, like the other events of the page, and reports the engaged time since the previous ping
and the furthest % scrolled so far), view products, sometimes buy (an identify in the page, and the order confirmed
by the back end), sometimes chat with the support bot; some come back for more sessions; known customers
are sent a newsletter that some open and click. Crawlers hit many pages fast. A share of the events is
sent twice (client retries) and a share is delivered late, out of order.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from schemas.traffic import Delivery, PlannedEvent, PropertyValue, TrafficSettings

SHOP = "https://shop.example"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
)
CRAWLERS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
BACK_END = "analytics-python/2.3.4"
# Who else fetches an email's pixel and links (stream_processors/enrich/mail_fetchers.py tells them apart).
APPLE_MAIL_PROXY = "Mozilla/5.0"
GMAIL_IMAGE_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
SCANNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
CHANNELS = {  # channel: (referrer, landing query)
    "direct": ("", ""),
    "search": ("https://www.google.com/", ""),
    "social": ("https://www.facebook.com/", "?utm_source=facebook&utm_medium=social&utm_campaign=autumn"),
    "paid": ("https://www.google.com/", "?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQ"),
}
PAGES = ("/", "/pricing", "/about", "/blog/choosing-shoes", "/support")
PRODUCTS = {"sku-1": 49.0, "sku-2": 89.5, "sku-3": 120.0, "sku-4": 15.25}
PING_SECONDS = 15
SESSION_GAP = timedelta(minutes=31)  # longer than the default 30-minute session timeout


@dataclass
class _Visitor:
    """What the generator remembers about a visitor between sessions."""

    visitor_id: str
    user_agent: str
    ip: str
    user_id: str = ""
    events: list[PlannedEvent] = field(default_factory=list)


def plan_traffic(site_id: str, settings: TrafficSettings) -> list[PlannedEvent]:
    """Every event of the traffic, duplicates and late deliveries included, in the order they are sent."""
    rng = random.Random(settings.seed)
    window_end = settings.start + timedelta(hours=settings.hours)
    planned: list[PlannedEvent] = []
    for number in range(settings.visitors):
        visitor = _Visitor(
            visitor_id=f"v{settings.seed}-{number}",
            user_agent=rng.choice(BROWSERS),
            ip=f"198.18.{number // 250 % 256}.{number % 250 + 1}",
        )
        if rng.random() < settings.bot_share:
            planned += _crawl(rng, site_id, visitor, settings)
            continue
        sessions = 1 + (rng.randint(1, 3) if rng.random() < settings.returning_share else 0)
        ended = settings.start
        for offset in sorted(rng.uniform(0, settings.hours) for _ in range(sessions)):
            begins = max(settings.start + timedelta(hours=offset), ended + SESSION_GAP)
            if begins > window_end:
                break
            ended = _session(rng, site_id, visitor, settings, begins, *CHANNELS[rng.choice(tuple(CHANNELS))])
        if visitor.user_id and rng.random() < settings.email_share:
            sent = max(ended, settings.start + timedelta(hours=rng.uniform(0, settings.hours)))
            _newsletter(rng, site_id, visitor, min(sent, window_end))
        planned += visitor.events
    delivered = _with_late_deliveries_and_retries(rng, planned, settings)
    return sorted(delivered, key=lambda event: (event.send_at, event.duplicate))


def _session(
    rng: random.Random, site_id: str, visitor: _Visitor, settings: TrafficSettings, start: datetime,
    referrer: str, landing_query: str,
) -> datetime:  # fmt: skip
    """One visit; returns when it ended."""
    moment = start
    paths = [rng.choice(PAGES)] + [rng.choice((*PAGES, *(f"/products/{sku}" for sku in PRODUCTS)))
                                   for _ in range(rng.randint(0, 6))]  # fmt: skip
    previous_url = referrer
    page_view_id = ""
    for index, path in enumerate(paths):
        url = f"{SHOP}{path}{landing_query if index == 0 else ''}"
        page_view_id = str(_next_event_id(visitor))
        page: dict[str, PropertyValue] = {"page_view_id": page_view_id}
        _add(visitor, site_id, "page_view", moment, url, previous_url, {"title": path.strip("/") or "home", **page})
        if path.startswith("/products/"):
            sku = path.rsplit("/", 1)[1]
            _add(visitor, site_id, "product_viewed", moment, url, "", {"sku": sku, "price": PRODUCTS[sku], **page})
        engaged = rng.randint(0, 4) * PING_SECONDS
        pings = range(PING_SECONDS, engaged + 1, PING_SECONDS)
        for seconds, depth in zip(pings, _scroll_depths(page_view_id, len(pings)), strict=True):
            ping: dict[str, PropertyValue] = {"engaged_ms": PING_SECONDS * 1000, "scroll_depth": depth, **page}
            _add(visitor, site_id, "page_ping", moment + timedelta(seconds=seconds), url, "", ping)
        moment += timedelta(seconds=engaged + rng.uniform(3, 40))
        previous_url = url
    if rng.random() < settings.chat_share:
        moment = _chat(rng, site_id, visitor, moment, previous_url, page_view_id)
    if rng.random() < settings.purchase_share:
        moment = _purchase(rng, site_id, visitor, moment)
    return moment


def _chat(
    rng: random.Random, site_id: str, visitor: _Visitor, start: datetime, url: str, page_view_id: str
) -> datetime:
    """A conversation with the support bot, in the last page the visitor viewed."""
    conversation: dict[str, PropertyValue] = {
        "conversation_id": f"c-{visitor.visitor_id}-{start.timestamp():.0f}",
        "bot_id": "helper",
        "page_view_id": page_view_id,
    }
    moment = start
    _add(visitor, site_id, "chat_conversation_started", moment, url, "", conversation)
    exchanges = rng.randint(1, 4)
    for _ in range(exchanges):
        moment += timedelta(seconds=rng.uniform(5, 30))
        _add(visitor, site_id, "chat_message_sent", moment, url, "", {**conversation, "message_length": 40})
        moment += timedelta(seconds=rng.uniform(1, 3))
        _add(visitor, site_id, "chat_message_received", moment, url, "", {**conversation, "sender": "bot"})
    moment += timedelta(seconds=5)
    ended = {**conversation, "messages": 2 * exchanges, "resolved": rng.random() < 0.7}
    _add(visitor, site_id, "chat_conversation_ended", moment, url, "", ended)
    return moment


def _purchase(rng: random.Random, site_id: str, visitor: _Visitor, start: datetime) -> datetime:
    """Cart, checkout and an identify in the page; the back end confirms the order (Segment API)."""
    sku = rng.choice(tuple(PRODUCTS))
    quantity = rng.randint(1, 3)
    revenue = round(PRODUCTS[sku] * quantity, 2)
    url = f"{SHOP}/checkout"
    moment = start + timedelta(seconds=rng.uniform(5, 60))
    _add(visitor, site_id, "add_to_cart", moment, f"{SHOP}/products/{sku}", "", {"sku": sku, "quantity": quantity})
    visitor.user_id = visitor.user_id or f"u-{visitor.visitor_id}"
    moment += timedelta(seconds=rng.uniform(20, 120))
    _add(visitor, site_id, "identify", moment, url, "", {"plan": "customer"})
    order: dict[str, PropertyValue] = {
        "order_id": f"o-{visitor.visitor_id}-{moment.timestamp():.0f}",
        "revenue": revenue,
        "currency": "EUR",
        "sku": sku,
        "quantity": quantity,
    }
    _add(visitor, site_id, "Order Completed", moment + timedelta(seconds=2), url, "", order, Delivery.SERVER)
    return moment


def _newsletter(rng: random.Random, site_id: str, visitor: _Visitor, start: datetime) -> None:
    """Sent by the back end; opened (sometimes twice) and clicked by some recipients, and fetched by machines
    for others: Apple's privacy proxy prefetches, Gmail's image proxy stands in for the person (and fetches
    again later), a corporate scanner follows every link seconds after the send."""
    campaign: dict[str, PropertyValue] = {
        "campaign_id": "autumn-newsletter",
        "message_id": f"m-{visitor.visitor_id}",
        "recipient_id": visitor.user_id,
    }
    _add(visitor, site_id, "email_sent", start, "", "", campaign, Delivery.SERVER)
    machines = random.Random(f"mail:{visitor.visitor_id}")  # (its own draws: the rest of the traffic stays)
    mailbox = machines.choice(("client", "client", "apple", "gmail", "scanned"))
    number = machines.randint(1, 250)
    if mailbox == "apple":
        fetched = start + timedelta(seconds=machines.uniform(2, 120))
        _add(visitor, site_id, "email_opened", fetched, "", "", campaign, Delivery.EMAIL_OPEN,
             user_agent=APPLE_MAIL_PROXY, ip=f"17.58.{number}.{machines.randint(1, 250)}")  # fmt: skip
    if mailbox == "scanned":  # from a cloud network, or from the company's own gateway (known by its speed)
        scanned = start + timedelta(seconds=machines.uniform(1, 8))
        gateway = f"52.95.{number}.10" if machines.random() < 0.5 else f"203.0.113.{number}"
        for link, path in enumerate(("/", "/pricing", "/products/sku-1")):
            _add(visitor, site_id, "email_clicked", scanned + timedelta(milliseconds=300 * link), f"{SHOP}{path}",
                 "", campaign, Delivery.EMAIL_CLICK, user_agent=SCANNER, ip=gateway)  # fmt: skip
    gmail = mailbox == "gmail"
    user_agent, ip = (GMAIL_IMAGE_PROXY, f"66.249.84.{number}") if gmail else (None, None)
    if rng.random() < 0.5:
        opened = start + timedelta(minutes=rng.uniform(5, 60))
        for repeat in range(rng.choice((1, 1, 2))):
            _add(visitor, site_id, "email_opened", opened + timedelta(minutes=repeat * 30), "", "", campaign,
                 Delivery.EMAIL_OPEN, user_agent=user_agent, ip=ip)  # fmt: skip
        if rng.random() < 0.4:
            clicked = opened + timedelta(seconds=rng.uniform(5, 120))
            url = f"{SHOP}/products/sku-2?utm_source=newsletter&utm_medium=email&utm_campaign=autumn-newsletter"
            _add(visitor, site_id, "email_clicked", clicked, url, "", campaign, Delivery.EMAIL_CLICK)
    if gmail:  # the proxy fetches again hours later, whether or not the person looks again
        _add(visitor, site_id, "email_opened", start + timedelta(hours=machines.uniform(1, 2)), "", "", campaign,
             Delivery.EMAIL_OPEN, user_agent=user_agent, ip=ip)  # fmt: skip


def _crawl(rng: random.Random, site_id: str, visitor: _Visitor, settings: TrafficSettings) -> list[PlannedEvent]:
    """A crawler: a known bot user agent, many pages a second or two apart, no engagement."""
    crawler = _Visitor(visitor.visitor_id, rng.choice(CRAWLERS), visitor.ip)
    moment = settings.start + timedelta(hours=rng.uniform(0, settings.hours))
    for path in rng.sample((*PAGES, *(f"/products/{sku}" for sku in PRODUCTS)), k=rng.randint(5, 9)):
        page = {"page_view_id": str(_next_event_id(crawler))}
        _add(crawler, site_id, "page_view", moment, f"{SHOP}{path}", "", page, bot=True)
        moment += timedelta(seconds=rng.uniform(0.5, 2))
    return crawler.events


def _scroll_depths(page_view_id: str, pings: int) -> list[int]:
    """What a page's pings report as ``scroll_depth``: the furthest % scrolled so far, rising with each ping.
    Drawn from the page view's id, so the traffic's other random choices stay what they were."""
    scrolling = random.Random(page_view_id)
    depths = [scrolling.randint(10, 40)]
    while len(depths) < pings:
        depths.append(min(100, depths[-1] + scrolling.randint(5, 30)))
    return depths[:pings]


def _next_event_id(visitor: _Visitor) -> uuid.UUID:
    """The id the visitor's next planned event gets: stable per visitor and position, as a client's would be."""
    return uuid.UUID(int=random.Random(f"{visitor.visitor_id}:{len(visitor.events)}").getrandbits(128), version=4)


def _add(
    visitor: _Visitor, site_id: str, name: str, moment: datetime, url: str, referrer: str,
    properties: Mapping[str, PropertyValue], delivery: Delivery = Delivery.BROWSER, *, bot: bool = False,
    user_agent: str | None = None, ip: str | None = None,
) -> None:  # fmt: skip
    visitor.events.append(
        PlannedEvent(
            event_id=_next_event_id(visitor),
            site_id=site_id,
            visitor_id=visitor.visitor_id,
            user_id=visitor.user_id,
            name=name,
            occurred_at=_whole_milliseconds(moment),
            send_at=_whole_milliseconds(moment),
            url=url,
            referrer=referrer,
            user_agent=user_agent or (BACK_END if delivery is Delivery.SERVER else visitor.user_agent),
            ip=ip or visitor.ip,
            properties=dict(properties),
            delivery=delivery,
            bot=bot,
        )
    )


def _whole_milliseconds(moment: datetime) -> datetime:
    """Clients send milliseconds: planned times have no finer part, so tests can compare them exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _with_late_deliveries_and_retries(
    rng: random.Random, planned: list[PlannedEvent], settings: TrafficSettings
) -> list[PlannedEvent]:
    """Some events sent 10-50 minutes after they happened, and some sent twice (the retry a few seconds later).

    Email opens and clicks are neither: their ids are the collector's, and a reopened email is a new open.
    """
    delivered: list[PlannedEvent] = []
    for event in planned:
        if event.delivery in (Delivery.EMAIL_OPEN, Delivery.EMAIL_CLICK):
            delivered.append(event)
            continue
        if rng.random() < settings.late_rate:
            delay = timedelta(minutes=rng.uniform(10, 50))
            event = replace(event, send_at=_whole_milliseconds(event.occurred_at + delay))
        delivered.append(event)
        if rng.random() < settings.duplicate_rate:
            delivered.append(
                replace(event, send_at=event.send_at + timedelta(seconds=rng.uniform(1, 30)), duplicate=True)
            )
    return delivered
