"""Dead letters: input that was rejected, kept with a typed reason and the original payload for replay."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

KEPT_PAYLOAD_BYTES = 512 * 1024  # beyond this (only oversized input), a dead letter keeps the first bytes


class Stage(StrEnum):
    """Where in the pipeline the input was rejected."""

    COLLECTOR = "collector"
    NORMALIZE = "normalize"
    ENRICH = "enrich"
    SESSIONIZE = "sessionize"
    PEOPLE = "people"  # the per-person stage (funnels), on an event already stored
    WAREHOUSE_WRITER = "warehouse_writer"
    SEGMENT_WEBHOOKS = "segment_webhooks"  # a segment change its webhook destination did not take


class DropReason(StrEnum):
    """Why the input was rejected. One list, so dashboards and alerts can group by it."""

    UNPARSEABLE_PAYLOAD = "unparseable_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_SITE = "unknown_site"
    SITES_NOT_LOADED = "sites_not_loaded"  # a collector started with no broker and no snapshot: replayable
    INVALID_WRITE_KEY = "invalid_write_key"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    RATE_LIMITED = "rate_limited"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_MESSAGE = "invalid_message"
    MISSING_SITE_ID = "missing_site_id"
    INVALID_EVENT_ID = "invalid_event_id"
    INVALID_EVENT_NAME = "invalid_event_name"
    MISSING_URL = "missing_url"
    INVALID_URL = "invalid_url"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_PROPERTY = "invalid_property"
    UNWRITABLE_ROW = "unwritable_row"
    WEBHOOK_REJECTED = "webhook_rejected"  # the destination answered a 4xx (not 408/429) or a redirect
    WEBHOOK_RETRIES_EXHAUSTED = "webhook_retries_exhausted"  # still failing after the last attempt or too old
    PIPELINE_ERROR = "pipeline_error"  # a bug in Beacon, not in the input: replay the hit once it is fixed


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    dead_letter_id: UUID  # the hit's id, so a re-delivered rejection is stored once
    stage: Stage
    reason: DropReason
    detail: str
    site_id: str
    received_at: datetime
    rejected_at: datetime
    payload: str  # the original input as received (JSON for hits), cut at KEPT_PAYLOAD_BYTES
    payload_bytes: int  # the original input's size, also when the payload was cut

    @classmethod
    def of_unreadable_payload(
        cls,
        stage: Stage,
        reason: DropReason,
        detail: str,
        payload: bytes,
        rejected_at: datetime,
        *,
        site_id: str = "",
        payload_bytes: int | None = None,
    ) -> DeadLetter:
        """A rejection of input too broken to carry its own id or receipt time.

        The id derives from the payload, so a re-delivered copy of the same bad message is stored once.
        ``payload_bytes`` is the whole input's size when only its beginning was read (an oversized body).
        """
        text = payload[:KEPT_PAYLOAD_BYTES].decode(errors="replace")
        return cls(
            dead_letter_id=uuid5(NAMESPACE_URL, text),
            stage=stage,
            reason=reason,
            detail=detail,
            site_id=site_id,
            received_at=rejected_at,
            rejected_at=rejected_at,
            payload=text,
            payload_bytes=len(payload) if payload_bytes is None else payload_bytes,
        )

    @classmethod
    def of_text(
        cls, dead_letter_id: UUID, stage: Stage, reason: DropReason, detail: str, site_id: str,
        received_at: datetime, rejected_at: datetime, payload: str,
    ) -> DeadLetter:  # fmt: skip
        """A rejection of input that has its own id (a raw hit): the payload is kept, cut if oversized."""
        encoded = payload.encode()
        kept = payload if len(encoded) <= KEPT_PAYLOAD_BYTES else encoded[:KEPT_PAYLOAD_BYTES].decode(errors="ignore")
        return cls(
            dead_letter_id=dead_letter_id, stage=stage, reason=reason, detail=detail, site_id=site_id,
            received_at=received_at, rejected_at=rejected_at, payload=kept, payload_bytes=len(encoded),
        )  # fmt: skip
