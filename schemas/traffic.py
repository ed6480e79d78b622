"""Generated traffic (``./beacon demo traffic``): what to generate, and each event it plans.

The generator is seeded, so a run is reproducible: tests and benchmarks send the same traffic every time and
know exactly which events must come out of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

PropertyValue = str | int | float | bool


class Delivery(StrEnum):
    """How a planned event reaches the collector."""

    BROWSER = "browser"  # POST /api/events, as the JS tracker sends
    SERVER = "server"  # POST /v1/batch, as a back end sends with Segment's SDK
    EMAIL_OPEN = "email_open"  # GET /o/<token>.gif
    EMAIL_CLICK = "email_click"  # GET /c/<token>


class TrafficSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: int = 1
    visitors: int = Field(default=100, ge=1)
    start: datetime  # the first session starts at or after this moment
    # Sessions and newsletters start within this many hours; the last ones end up to an hour later.
    hours: float = Field(default=6.0, gt=0)
    returning_share: float = Field(default=0.3, ge=0, le=1)  # visitors who come back for more sessions
    purchase_share: float = Field(default=0.2, ge=0, le=1)  # sessions that end in a purchase
    chat_share: float = Field(default=0.1, ge=0, le=1)  # sessions with a chat conversation
    email_share: float = Field(default=0.3, ge=0, le=1)  # known customers who are sent a newsletter
    bot_share: float = Field(default=0.05, ge=0, le=1)  # visitors that are crawlers
    duplicate_rate: float = Field(default=0.02, ge=0, le=1)  # events sent a second time (a client retry)
    late_rate: float = Field(default=0.05, ge=0, le=1)  # events delivered 10-50 minutes after they happened


@dataclass(frozen=True)
class PlannedEvent:
    """One event as its client would send it; ``occurred_at`` is on the true clock."""

    event_id: UUID
    site_id: str
    visitor_id: str
    user_id: str  # "" while the visitor is anonymous
    name: str
    occurred_at: datetime
    send_at: datetime  # later than occurred_at for late deliveries; the sender sends in this order
    url: str
    referrer: str
    user_agent: str
    ip: str
    properties: Mapping[str, PropertyValue]
    delivery: Delivery
    duplicate: bool = False  # a second sending of an event planned before it (same event_id)
    bot: bool = False
