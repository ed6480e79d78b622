"""The collector's one error map: every refusal of a JSON API becomes a ``schemas.answers.Refusal``.

``errors`` lists the items of a batch that were refused, by index, with a reason from
``schemas.dead_letters.DropReason``. ``deadLetterId`` names the dead letter that keeps a refused request (or
item), so nothing refused is untraceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import orjson
from fastapi import Request
from starlette.responses import Response

from schemas.answers import ItemRefusal, Refusal


@dataclass
class CollectorError(Exception):
    status: int
    code: str
    message: str
    item_errors: list[ItemRefusal] = field(default_factory=list)
    accepted: int = 0
    retry_after_seconds: int | None = None
    dead_letter_id: UUID | None = None  # where the refused request is kept, for support and replay

    def answer(self) -> Refusal:
        partial = bool(self.item_errors or self.accepted)
        return Refusal(
            code=self.code,
            message=self.message,
            dead_letter_id=self.dead_letter_id,
            accepted=self.accepted if partial else None,
            errors=self.item_errors if partial else None,
        )


async def collector_error_response(_: Request, error: Exception) -> Response:
    assert isinstance(error, CollectorError)
    headers = {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds is not None else None
    body = orjson.dumps(error.answer().model_dump(mode="json", by_alias=True, exclude_none=True))
    return Response(body, status_code=error.status, headers=headers, media_type="application/json")
