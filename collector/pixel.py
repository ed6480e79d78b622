"""``GET /p.gif``: the tracking pixel. It always answers the transparent GIF, whatever the input, because an
image tag cannot show an error; what was wrong with a hit is recorded in the dead letters instead.

It is the hottest route, so it is a plain Starlette endpoint (no FastAPI parameter machinery) and it does
not wait for the broker's acknowledgement: the hit is in the producer's batch or the spool when it answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.intake import Intake
from collector.raw_hits import client_context, oversized_query, raw_hit_from_query
from collector.settings import CollectorSettings
from schemas.dead_letters import Stage
from schemas.events import HitSource
from stream_processors.normalize.pipeline import dead_letter_for

TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}

log = structlog.get_logger("collector.pixel")


def pixel_route(intake: Intake, settings: CollectorSettings) -> Route:
    async def pixel(request: Request) -> Response:
        received_at = datetime.now(UTC)
        hit_id = uuid4()
        query_string = request.url.query
        try:
            if len(query_string) > settings.collector_max_query_bytes:
                letter = oversized_query(
                    hit_id=hit_id,
                    received_at=received_at,
                    query_string=query_string,
                    limit=settings.collector_max_query_bytes,
                )
                await intake.reject(HitSource.PIXEL, [letter])
            else:
                hit = raw_hit_from_query(
                    hit_id=hit_id,
                    source=HitSource.PIXEL,
                    received_at=received_at,
                    query=request.query_params,
                    client=client_context(request),
                )
                refusal = intake.check_at_the_door(hit)
                if refusal is not None:
                    await intake.reject(HitSource.PIXEL, [dead_letter_for(hit, refusal, Stage.COLLECTOR, received_at)])
                else:
                    intake.accept_nowait(HitSource.PIXEL, hit)
        except Exception:  # the pixel answers its GIF whatever happens; the failure is logged and counted
            log.exception("hit_not_forwarded", hit_id=str(hit_id))
            intake.count_failure(HitSource.PIXEL)
        return Response(TRANSPARENT_GIF, media_type="image/gif", headers=NO_STORE)

    return Route("/p.gif", pixel, methods=["GET"], name="pixel")
