"""The browser API for the JS tracker: ``POST /api/event`` (one event) and ``POST /api/events`` (a batch).

Bodies are JSON sent as ``text/plain`` (no CORS preflight, so ``sendBeacon`` works); ``application/json``
works too after a preflight. A page may send events only for a site that lists its domain: the ``Origin``
header is checked against the site's registered domains, and the CORS headers name that origin alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from collector.cors import origin_refused, preflight_response, with_cors
from collector.intake import Intake
from collector.messages import (
    enforce_rate_limit,
    incoming_messages,
    read_body,
    refuse_request,
    take_messages,
    validated,
)
from schemas.browser import BrowserBatch, BrowserSingle
from schemas.dead_letters import DropReason
from schemas.events import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, HitSource
from schemas.sites import Site
from stream_processors.normalize.steps import Drop

SOURCE = HitSource.BROWSER


def browser_routes(intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["browser"])

    @router.post("/event", summary="One event from a web page")
    async def one_event(request: Request) -> Response:
        received_at = datetime.now(UTC)
        body, raw = await read_body(intake, SOURCE, request, MAX_MESSAGE_BYTES, received_at)
        envelope = await validated(intake, SOURCE, BrowserSingle, body, raw, received_at)
        site = await _admit(intake, request, envelope.site, raw, received_at)
        event = {name: value for name, value in body.items() if name not in ("site", "sent_at")}
        return await _take(intake, request, site, [event], envelope.sent_at, received_at, raw)

    @router.post("/events", summary="Several events of one site from a web page")
    async def events(request: Request) -> Response:
        received_at = datetime.now(UTC)
        body, raw = await read_body(intake, SOURCE, request, MAX_BATCH_BYTES, received_at)
        batch = await validated(intake, SOURCE, BrowserBatch, body, raw, received_at)
        site = await _admit(intake, request, batch.site, raw, received_at)
        return await _take(intake, request, site, batch.events, batch.sent_at, received_at, raw)

    @router.options("/event", include_in_schema=False)
    @router.options("/events", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        return preflight_response(intake.registry, request)

    return router


async def _admit(intake: Intake, request: Request, site_id: str, raw: bytes, received_at: datetime) -> Site:
    """The named site, if it exists and the page's origin is one of its domains."""
    intake.ensure_sites_loaded()
    site = intake.site_named(site_id)
    if isinstance(site, Drop):
        error = await refuse_request(intake, SOURCE, site.reason, site.detail, raw, received_at, code=site.reason.value)
        raise error
    origin = request.headers.get("origin")
    if origin is not None and origin_refused(site, origin):
        raise await refuse_request(
            intake, SOURCE, DropReason.ORIGIN_NOT_ALLOWED, f"{origin[:200]} is not a domain of site {site.site_id}",
            raw, received_at, site_id=site.site_id, status=403, code="origin_not_allowed",
        )  # fmt: skip
    return site


async def _take(
    intake: Intake,
    request: Request,
    site: Site,
    events: list[Any],
    sent_at: int | None,
    received_at: datetime,
    raw: bytes,
) -> Response:
    client_ip = request.client.host if request.client else ""
    await enforce_rate_limit(intake, SOURCE, client_ip, site.site_id, len(events), raw, received_at)
    sent = datetime.fromtimestamp(sent_at / 1000, UTC) if sent_at is not None and 0 < sent_at < 10**14 else None
    incoming = incoming_messages(
        request,
        source=SOURCE,
        site_id=site.site_id,
        messages=events,
        visitor_fields=("anonymous_id", "user_id"),
        id_field="event_id",
        sent_at=sent,
        received_at=received_at,
    )
    return with_cors(await take_messages(intake, SOURCE, incoming, received_at), request)
