"""Snowplow's tracker protocol: ``GET /i`` (a pixel) and ``POST /com.snowplowanalytics.snowplow/tp2``.

Snowplow's trackers work unchanged when pointed at the collector, with the site id as their application id
(``aid``). ``/i`` behaves like ``/p.gif``: always the GIF, problems to dead letters. A tp2 POST is taken
like the other JSON APIs: valid events accepted, the others listed in a 400 (trackers do not retry a 400)
and kept in the dead letters.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from uuid import uuid4

import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from collector.intake import Intake
from collector.messages import IncomingMessage, take_messages, validated
from collector.pixel import NO_STORE, TRANSPARENT_GIF
from collector.raw_hits import client_context
from collector.request_body import read_json_body
from schemas.dead_letters import Stage
from schemas.events import MAX_BATCH_BYTES, HitSource, RawHit
from schemas.snowplow import PayloadData
from stream_processors.normalize.pipeline import dead_letter_for

SOURCE = HitSource.SNOWPLOW

log = structlog.get_logger("collector.snowplow")


def snowplow_pixel_route(intake: Intake) -> Route:
    async def tracker_pixel(request: Request) -> Response:
        received_at = datetime.now(UTC)
        try:
            hit = _raw_hit(request, dict(request.query_params), received_at)
            refusal = intake.check_at_the_door(hit)
            if refusal is not None:
                await intake.reject(SOURCE, [dead_letter_for(hit, refusal, Stage.COLLECTOR, received_at)])
            else:
                intake.accept_nowait(SOURCE, hit)
        except Exception:  # like the pixel: the GIF whatever happens; the failure is logged and counted
            log.exception("tracker_pixel_not_forwarded")
            intake.count_failure(SOURCE)
        return Response(TRANSPARENT_GIF, media_type="image/gif", headers=NO_STORE)

    return Route("/i", tracker_pixel, methods=["GET"], name="snowplow_pixel")


def snowplow_routes(intake: Intake) -> APIRouter:
    router = APIRouter(tags=["snowplow"])

    @router.post("/com.snowplowanalytics.snowplow/tp2", summary="Snowplow tracker protocol, POST")
    async def tp2(request: Request) -> Response:
        received_at = datetime.now(UTC)
        body, raw = await read_json_body(request, MAX_BATCH_BYTES)
        payload = await validated(intake, SOURCE, PayloadData, body, raw, received_at)
        incoming = []
        for event in payload.data:
            parameters = {str(name): str(value) for name, value in event.items()} if isinstance(event, dict) else {}
            hit = _raw_hit(request, parameters, received_at)
            incoming.append(IncomingMessage(event, hit, parameters.get("eid")))
        return await take_messages(intake, SOURCE, incoming, received_at, admit=intake.check_at_the_door)

    return router


def _raw_hit(request: Request, parameters: dict[str, str], received_at: datetime) -> RawHit:
    return RawHit(
        hit_id=uuid4(),
        source=SOURCE,
        received_at=received_at,
        site_id=parameters.get("aid", ""),
        visitor_key=parameters.get("duid") or parameters.get("uid") or "",
        query=parameters,
        **asdict(client_context(request)),
    )
