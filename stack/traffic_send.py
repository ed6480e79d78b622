"""Send planned traffic (``stack.traffic_plan``) to a collector, as the real clients would.

Page events go to the browser API the way the JS tracker sends them (text/plain JSON, the page's origin,
the visitor's user agent and address), server events to the Segment API with the write key, and email
opens and clicks through signed links. Events are sent now, in their planned order; each carries its true
time as the client's timestamp, so the stream's clock-skew correction places it at ``occurred_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import httpx
import orjson

from schemas.email import EmailClickTarget, EmailRecipientMessage, EmailTokens
from schemas.traffic import Delivery, PlannedEvent

MAX_EVENTS_PER_REQUEST = 100


@dataclass(frozen=True)
class TrafficTarget:
    collector_url: str
    site_id: str
    write_key: str
    origin: str  # a page origin among the site's registered domains, e.g. "https://shop.example"
    email_tokens: EmailTokens


@dataclass(frozen=True)
class SendReport:
    requests: int
    events: int
    refused: list[str]  # one line per refused request: status and answer


def send_traffic(
    planned: Sequence[PlannedEvent], target: TrafficTarget, on_progress: Callable[[int], None] = lambda _: None
) -> SendReport:
    """Send every planned event; consecutive events of one visitor and kind share a request."""
    requests = events = 0
    refused: list[str] = []
    with httpx.Client(base_url=target.collector_url, timeout=30) as client:
        for batch in _requests(planned):
            response = _send(client, target, batch)
            requests += 1
            events += len(batch)
            if response.status_code >= 400:
                refused.append(f"{response.status_code} {response.text[:300]}")
            on_progress(len(batch))
    return SendReport(requests, events, refused)


def expected_events(planned: Sequence[PlannedEvent]) -> tuple[int, int]:
    """(distinct event ids the stream must store, email opens and clicks): retries count once, and each email
    interaction is its own event with the collector's id."""
    emails = (Delivery.EMAIL_OPEN, Delivery.EMAIL_CLICK)
    distinct = {event.event_id for event in planned if event.delivery not in emails}
    return len(distinct), sum(1 for event in planned if event.delivery in emails)


def _requests(planned: Sequence[PlannedEvent]) -> Iterator[list[PlannedEvent]]:
    def same_request(event: PlannedEvent) -> tuple[Delivery, str]:
        # Browser requests carry one visitor's headers; server batches mix visitors; links are one each.
        return event.delivery, event.visitor_id if event.delivery is Delivery.BROWSER else ""

    for (delivery, _), run in groupby(planned, key=same_request):
        events = list(run)
        size = MAX_EVENTS_PER_REQUEST if delivery in (Delivery.BROWSER, Delivery.SERVER) else 1
        for start in range(0, len(events), size):
            yield events[start : start + size]


def _send(client: httpx.Client, target: TrafficTarget, batch: list[PlannedEvent]) -> httpx.Response:
    first = batch[0]
    visitor = {"User-Agent": first.user_agent, "X-Forwarded-For": first.ip}
    now = datetime.now(UTC)
    if first.delivery is Delivery.BROWSER:
        body = {"site": target.site_id, "sent_at": _milliseconds(now), "events": [_browser_event(e) for e in batch]}
        headers = {**visitor, "Content-Type": "text/plain;charset=UTF-8", "Origin": target.origin}
        return client.post("/api/events", content=orjson.dumps(body), headers=headers)
    if first.delivery is Delivery.SERVER:
        body = {"batch": [_segment_track(event) for event in batch], "sentAt": now.isoformat()}
        return client.post("/v1/batch", content=orjson.dumps(body), auth=(target.write_key, ""),
                           headers={"Content-Type": "application/json", "User-Agent": first.user_agent})  # fmt: skip
    message = EmailRecipientMessage(
        site_id=target.site_id,
        campaign_id=str(first.properties["campaign_id"]),
        message_id=str(first.properties["message_id"]),
        recipient_id=str(first.properties["recipient_id"]),
    )
    if first.delivery is Delivery.EMAIL_OPEN:
        return client.get(f"/o/{target.email_tokens.open_token(message)}.gif", headers=visitor)
    click = EmailClickTarget(**message.model_dump(), url=first.url)
    return client.get(f"/c/{target.email_tokens.click_token(click)}", headers=visitor)


def _browser_event(event: PlannedEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "name": event.name,
        "url": event.url or None,
        "referrer": event.referrer or None,
        "anonymous_id": event.visitor_id,
        "user_id": event.user_id or None,
        "timestamp": _milliseconds(event.occurred_at),
        "properties": dict(event.properties),
    }


def _segment_track(event: PlannedEvent) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event.name,
        "messageId": str(event.event_id),
        "anonymousId": event.visitor_id,
        "userId": event.user_id or None,
        "timestamp": event.occurred_at.isoformat(),
        "properties": dict(event.properties),
        "context": {"ip": event.ip, "userAgent": event.user_agent},
    }


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
