"""What the stream worker writes besides events: session versions, moved events, identity links and bots.

Each is one Kafka record (JSON) and one ClickHouse row; ``schemas.warehouse_rows`` maps them to tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class SessionRecord(BaseModel):
    """One version of a session, or the cancellation of one (``sign=-1``): ``beacon.sessions``."""

    model_config = ConfigDict(frozen=True)

    session_id: UUID
    site_id: str
    visitor_id: str
    user_id: str
    start_time: datetime
    end_time: datetime
    entry_url: str
    exit_url: str
    referrer: str
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    device_type: str
    browser: str
    os: str
    country: str
    region: str
    city: str
    page_views: int
    events: int
    duration_ms: int
    engaged_ms: int
    is_bounce: bool
    is_bot: bool
    version: int
    sign: int


class EventSessionChange(BaseModel):
    """An event already written moved to another session (a late event merged or split sessions)."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    event_id: UUID
    session_id: UUID
    changed_at: datetime  # the stream time of the change: later changes win


class IdentityKind(StrEnum):
    ANONYMOUS = "anonymous"  # an anonymous id seen with this user id (identify, or any event carrying both)
    ALIAS = "alias"  # a former user id merged into this one (alias: previousId -> userId)


class IdentityLink(BaseModel):
    """``identifier`` is known to be ``user_id`` from ``linked_at`` on: ``beacon.identities``."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    identifier: str
    kind: IdentityKind
    user_id: str
    linked_at: datetime
    event_id: UUID  # the event that made the link


class BotVisitor(BaseModel):
    """A visitor found to be a bot by behaviour after some of its events were written."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    visitor_id: str
    reason: str
    flagged_at: datetime
