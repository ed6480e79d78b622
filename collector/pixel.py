"""``GET /p.gif``: the tracking pixel. It always answers the transparent GIF, whatever the input, because an
image tag cannot show an error; what was wrong with a hit is recorded in the dead letters instead.

It is the hottest route, so it is a raw ASGI endpoint in front of FastAPI (``collector.app.CollectorApp``):
no routing, middleware or request objects, and it does not wait for the broker's acknowledgement: the hit is
in the producer's queue or the spool when it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import structlog
from starlette.types import Receive, Scope, Send

from collector.intake import Intake
from collector.raw_hits import client_context_of, oversized_query, parse_query, raw_hit_from_query
from schemas.dead_letters import Stage
from schemas.events import HitSource
from stream_processors.normalize.pipeline import dead_letter_for

PIXEL_PATH = "/p.gif"
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}

_GIF_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"image/gif"),
        (b"content-length", str(len(TRANSPARENT_GIF)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in NO_STORE.items()),
    ],
}
_GIF_BODY = {"type": "http.response.body", "body": TRANSPARENT_GIF}
_NO_BODY = {"type": "http.response.body", "body": b""}
_NOT_ALLOWED = {"type": "http.response.start", "status": 405, "headers": [(b"allow", b"GET, HEAD")]}

log = structlog.get_logger("collector.pixel")


class PixelEndpoint:
    """The raw ASGI pixel: ``GET`` (or ``HEAD``) ``/p.gif?site=…``; see docs/tracking-api.md."""

    def __init__(self, intake: Intake, max_query_bytes: int) -> None:
        self._intake = intake
        self._max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await send(_NOT_ALLOWED)
            await send(_NO_BODY)
            return
        try:
            await self._take(scope)
        except Exception:  # the pixel answers its GIF whatever happens; the failure is logged and counted
            log.exception("hit_not_forwarded")
            self._intake.count_failure(HitSource.PIXEL)
        await send(_GIF_START)
        await send(_NO_BODY if method == "HEAD" else _GIF_BODY)

    async def _take(self, scope: Mapping[str, Any]) -> None:
        received_at = datetime.now(UTC)
        hit_id = uuid4()
        query_string = scope["query_string"].decode("utf-8", "replace")
        if len(query_string) > self._max_query_bytes:
            letter = oversized_query(
                hit_id=hit_id, received_at=received_at, query_string=query_string, limit=self._max_query_bytes
            )
            await self._intake.reject(HitSource.PIXEL, [letter])
            return
        hit = raw_hit_from_query(
            hit_id=hit_id,
            source=HitSource.PIXEL,
            received_at=received_at,
            query=parse_query(query_string),
            client=client_context_of(scope),
        )
        refusal = self._intake.check_at_the_door(hit)
        if refusal is not None:
            await self._intake.reject(HitSource.PIXEL, [dead_letter_for(hit, refusal, Stage.COLLECTOR, received_at)])
        else:
            self._intake.accept_nowait(HitSource.PIXEL, hit)
