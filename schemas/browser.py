"""The browser API's messages (``POST /api/event``, ``POST /api/events``), as the JS tracker sends them.

Sent as ``text/plain`` JSON so ``navigator.sendBeacon`` and ``fetch(keepalive)`` need no CORS preflight.
Times are integer milliseconds since the epoch on the browser's clock; the stream corrects its skew with
``sent_at``. Unknown fields are refused, so a tracker bug is caught, not silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BROWSER_BATCH_EVENTS = 500
PropertyValue = str | int | float | bool | None


class BrowserEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="page_view", max_length=200)
    url: str | None = Field(default=None, max_length=4096)
    referrer: str | None = Field(default=None, max_length=4096)
    anonymous_id: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=200)
    timestamp: int | None = None
    consent: Literal["granted", "denied"] | None = None
    properties: dict[str, PropertyValue] = Field(default_factory=dict)


class BrowserSingle(BaseModel):
    """``POST /api/event``: one event plus the site and the send time."""

    model_config = ConfigDict(extra="allow")

    site: str = Field(max_length=63)
    sent_at: int | None = None


class BrowserBatch(BaseModel):
    """``POST /api/events``: several events of one site, sent together."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(max_length=63)
    sent_at: int | None = None
    events: list[Any] = Field(max_length=MAX_BROWSER_BATCH_EVENTS)
