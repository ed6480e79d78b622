"""What is POSTed to a segment's webhook destination for one change (pure): the body, the signature, the
delivery id that stays the same however often the change is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid5

from destinations.webhook_signatures import SIGNATURE_HEADER, sign
from schemas.segments import SegmentChange

DELIVERY_ID_HEADER = "Beacon-Delivery-Id"
ATTEMPT_HEADER = "Beacon-Delivery-Attempt"
USER_AGENT = "Beacon-Webhooks/1"
_DELIVERY_NAMESPACE = UUID("6c1f6f55-2f5e-4b0e-9a52-3a4f3c1f0b7e")


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def delivery_id(change: SegmentChange, url: str) -> UUID:
    """One id per change and destination: a repeat (a retry, or a re-delivery after a crash) has the same id, so a
    receiver that remembers the ids it handled acts once. A change is its segment version, person and sequence."""
    identity = "\n".join(
        (change.site_id, change.segment_id, change.segment_version, change.person_id, str(change.sequence), url)
    )
    return uuid5(_DELIVERY_NAMESPACE, identity)


def change_body(change: SegmentChange) -> bytes:
    """The body: the change as on the segment's topic (schema v1, schemas/json/segment_change.v1.json)."""
    return change.model_dump_json().encode()


def webhook_request(
    change: SegmentChange, url: str, secrets: Sequence[str], attempt: int, timestamp: int
) -> WebhookRequest:
    """Attempt number ``attempt`` (from 1) of delivering ``change`` to ``url``, signed at ``timestamp``."""
    body = change_body(change)
    return WebhookRequest(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secrets, body, timestamp),
            DELIVERY_ID_HEADER: str(delivery_id(change, url)),
            ATTEMPT_HEADER: str(attempt),
        },
    )
