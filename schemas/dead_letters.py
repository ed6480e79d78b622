"""Dead letters: input that was rejected, kept with a typed reason and the original payload for replay."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict


class Stage(StrEnum):
    """Where in the pipeline the input was rejected."""

    COLLECTOR = "collector"
    NORMALIZE = "normalize"
    WAREHOUSE_WRITER = "warehouse_writer"


class DropReason(StrEnum):
    """Why the input was rejected. One list, so dashboards and alerts can group by it."""

    UNPARSEABLE_PAYLOAD = "unparseable_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_SITE = "unknown_site"
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


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    dead_letter_id: UUID  # the hit's id, so a re-delivered rejection is stored once
    stage: Stage
    reason: DropReason
    detail: str
    site_id: str
    received_at: datetime
    rejected_at: datetime
    payload: str  # the original input, exactly as received (JSON for hits)

    @classmethod
    def of_unreadable_payload(
        cls, stage: Stage, reason: DropReason, detail: str, payload: bytes, rejected_at: datetime
    ) -> DeadLetter:
        """A rejection of input too broken to carry its own id or receipt time.

        The id derives from the payload, so a re-delivered copy of the same bad message is stored once.
        """
        text = payload.decode(errors="replace")
        return cls(
            dead_letter_id=uuid5(NAMESPACE_URL, text),
            stage=stage,
            reason=reason,
            detail=detail,
            site_id="",
            received_at=rejected_at,
            rejected_at=rejected_at,
            payload=text,
        )
