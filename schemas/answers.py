"""What the collector's JSON APIs answer; the OpenAPI document and the responses share these types."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Accepted(BaseModel):
    """Every message was accepted (Segment's answer, which its SDKs expect)."""

    success: Literal[True] = True


class ItemRefusal(BaseModel):
    """One refused message of a request, by its index in the request."""

    model_config = ConfigDict(populate_by_name=True)

    index: int
    message_id: str | None = Field(default=None, alias="messageId")
    reason: str = Field(description="a reason from schemas.dead_letters.DropReason")
    detail: str
    dead_letter_id: UUID | None = Field(default=None, alias="deadLetterId")


class Refusal(BaseModel):
    """A request refused in whole or in part; ``code`` and ``message`` are what Segment's SDKs read."""

    model_config = ConfigDict(populate_by_name=True)

    success: Literal[False] = False
    code: str
    message: str
    dead_letter_id: UUID | None = Field(
        default=None, alias="deadLetterId", description="where a request refused as a whole is kept"
    )
    accepted: int | None = Field(default=None, description="messages accepted when only some were refused")
    errors: list[ItemRefusal] | None = None
