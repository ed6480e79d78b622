"""The collector's one error map: every refusal of a JSON API becomes this response shape.

``code`` and ``message`` are what Segment's and RudderStack's SDKs read from an error; ``errors`` lists the
items of a batch that were refused, by index, with a reason from ``schemas.dead_letters.DropReason``.
``deadLetterId`` names the dead letter that keeps a refused request (or item), so nothing refused is untraceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from fastapi import Request
from starlette.responses import Response

from collector.responses import json_response


@dataclass(frozen=True)
class ItemError:
    index: int
    reason: str
    detail: str
    message_id: str | None = None
    dead_letter_id: UUID | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "reason": self.reason,
            "detail": self.detail,
            "deadLetterId": str(self.dead_letter_id) if self.dead_letter_id else None,
        }


@dataclass
class CollectorError(Exception):
    status: int
    code: str
    message: str
    item_errors: list[ItemError] = field(default_factory=list)
    accepted: int = 0
    retry_after_seconds: int | None = None
    dead_letter_id: UUID | None = None  # where the refused request is kept, for support and replay


async def collector_error_response(_: Request, error: Exception) -> Response:
    assert isinstance(error, CollectorError)
    headers = {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds is not None else None
    body: dict[str, object] = {"success": False, "code": error.code, "message": error.message}
    if error.dead_letter_id is not None:
        body["deadLetterId"] = str(error.dead_letter_id)
    if error.item_errors or error.accepted:
        body["accepted"] = error.accepted
        body["errors"] = [item.as_json() for item in error.item_errors]
    return json_response(body, status_code=error.status, headers=headers)
