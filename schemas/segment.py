"""The Segment tracking API's message, as Segment's (and RudderStack's) SDKs send it to ``/v1/*``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SegmentType = Literal["track", "page", "screen", "identify", "group", "alias"]
SINGLE_CALLS: tuple[SegmentType, ...] = ("track", "page", "screen", "identify", "group", "alias")
MAX_BATCH_ITEMS = 2500


class SegmentMessage(BaseModel):
    """One call: track, page, screen, identify, group or alias (unknown fields are kept, not refused)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    type: SegmentType
    message_id: str | None = Field(default=None, alias="messageId", max_length=200)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=200)
    user_id: str | None = Field(default=None, alias="userId", max_length=200)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    group_id: str | None = Field(default=None, alias="groupId", max_length=200)
    previous_id: str | None = Field(default=None, alias="previousId", max_length=200)

    @field_validator("anonymous_id", "user_id", "group_id", "previous_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        # SDKs in typed languages send numeric ids; Segment accepts them as strings.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _required_by_type(self) -> SegmentMessage:
        if not (self.anonymous_id or self.user_id):
            raise ValueError("anonymousId or userId is required")
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs 'event'")
        if self.type == "group" and not self.group_id:
            raise ValueError("a group call needs 'groupId'")
        if self.type == "alias" and not (self.previous_id and self.user_id):
            raise ValueError("an alias call needs 'previousId' and 'userId'")
        return self


class SegmentBatch(BaseModel):
    """The body of ``POST /v1/batch``: items stay raw here, each is validated on its own."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    batch: list[Any] = Field(max_length=MAX_BATCH_ITEMS)
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    context: dict[str, Any] = Field(default_factory=dict)
    write_key: str | None = Field(default=None, alias="writeKey")
