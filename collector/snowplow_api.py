"""Snowplow's tracker protocol: ``GET /i`` (a pixel) and ``POST /com.snowplowanalytics.snowplow/tp2``.

Snowplow's trackers work unchanged when pointed at the collector, with the site id as their application id
(``aid``). ``/i`` behaves like ``/p.gif``: always the GIF, problems to dead letters. A tp2 POST is taken
like the other JSON APIs: valid events accepted, the others listed in a 400 (trackers do not retry a 400)
and kept in the dead letters. From a web page, CORS is by site (collector/cors.py): each event's site must
list the page's origin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from collector.cors import origin_refused, preflight_response, with_cors
from collector.intake import Intake
from collector.messages import IncomingMessage, read_body, take_messages, validated
from collector.pixel import NO_STORE, TRANSPARENT_GIF
from collector.raw_hits import client_context
from schemas.dead_letters import DropReason, Stage
from schemas.events import MAX_BATCH_BYTES, HitSource, RawHit
from schemas.snowplow import PayloadData
from stream_processors.normalize.pipeline import dead_letter_for
from stream_processors.normalize.steps import Drop

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
        body, raw = await read_body(intake, SOURCE, request, MAX_BATCH_BYTES, received_at)
        payload = await validated(intake, SOURCE, PayloadData, body, raw, received_at)
        intake.ensure_sites_loaded()
        incoming = []
        for event in payload.data:
            parameters = {str(name): str(value) for name, value in event.items()} if isinstance(event, dict) else {}
            hit = _raw_hit(request, parameters, received_at)
            incoming.append(IncomingMessage(event, hit, parameters.get("eid")))
        origin = request.headers.get("origin")
        admit = intake.check_at_the_door if origin is None else _from_page_of_its_site(intake, origin)
        return with_cors(await take_messages(intake, SOURCE, incoming, received_at, admit=admit), request)

    @router.options("/com.snowplowanalytics.snowplow/tp2", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        return preflight_response(intake.registry, request)

    return router


def _from_page_of_its_site(intake: Intake, origin: str) -> Callable[[RawHit], Drop | None]:
    """For a browser's tp2 POST: each event's site (``aid``) must list the page's origin."""

    def admit(hit: RawHit) -> Drop | None:
        refusal = intake.check_at_the_door(hit)
        if refusal is not None:
            return refusal
        site = intake.registry.get(hit.site_id)
        if site is not None and origin_refused(site, origin):
            return Drop(DropReason.ORIGIN_NOT_ALLOWED, f"{origin[:200]} is not a domain of site {site.site_id}")
        return None

    return admit


def _raw_hit(request: Request, parameters: dict[str, str], received_at: datetime) -> RawHit:
    return RawHit(
        hit_id=uuid4(),
        source=SOURCE,
        received_at=received_at,
        site_id=parameters.get("aid", ""),
        visitor_key=parameters.get("duid") or parameters.get("uid") or "",
        query=parameters,
        **client_context(request).fields(),
    )
