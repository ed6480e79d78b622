"""The Segment-compatible tracking API: ``POST /v1/{track,page,screen,identify,group,alias,batch}``.

Segment's and RudderStack's SDKs work unchanged against it: HTTP Basic auth with the write key as user name
(or ``writeKey`` in the body), gzip bodies, 32 KB per message, 500 KB per batch. A partly invalid batch gets
its valid messages accepted and a 400 listing every refused one by index (see ``collector.messages``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from collector.intake import Intake
from collector.messages import (
    enforce_rate_limit,
    incoming_messages,
    read_body,
    refuse_request,
    take_messages,
    validated,
)
from schemas.dead_letters import DropReason
from schemas.events import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, HitSource
from schemas.segment import SINGLE_CALLS, SegmentBatch
from schemas.sites import Site

SOURCE = HitSource.SEGMENT


def segment_routes(intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["segment"])

    @router.post("/batch", summary="Send up to 500 KB of messages")
    async def batch(request: Request) -> Response:
        received_at = datetime.now(UTC)
        body, raw = await read_body(intake, SOURCE, request, MAX_BATCH_BYTES, received_at)
        site = await _authenticate(intake, request, body, raw, received_at)
        parsed = await validated(intake, SOURCE, SegmentBatch, body, raw, received_at, site_id=site.site_id)
        return await _take(intake, request, site, parsed.batch, parsed.sent_at, received_at, raw)

    for call in SINGLE_CALLS:
        router.add_api_route(f"/{call}", _single_call_endpoint(intake, call), methods=["POST"], summary=f"One {call}")
    return router


def _single_call_endpoint(intake: Intake, call: str) -> Any:
    async def single(request: Request) -> Response:
        received_at = datetime.now(UTC)
        body, raw = await read_body(intake, SOURCE, request, MAX_MESSAGE_BYTES, received_at)
        site = await _authenticate(intake, request, body, raw, received_at)
        if not isinstance(body, dict):
            raise await refuse_request(
                intake, SOURCE, DropReason.INVALID_MESSAGE, "the body must be a JSON object", raw, received_at,
                site_id=site.site_id,
            )  # fmt: skip
        return await _take(intake, request, site, [{**body, "type": call}], None, received_at, raw)

    single.__name__ = f"segment_{call}"
    return single


async def _take(
    intake: Intake,
    request: Request,
    site: Site,
    messages: list[Any],
    sent_at: datetime | None,
    received_at: datetime,
    raw: bytes,
) -> Response:
    # Server-side: the site's budget only (see RateLimits.retry_after).
    await enforce_rate_limit(intake, SOURCE, None, site.site_id, len(messages), raw, received_at)
    incoming = incoming_messages(
        request,
        source=SOURCE,
        site_id=site.site_id,
        messages=messages,
        visitor_fields=("anonymousId", "userId"),
        id_field="messageId",
        sent_at=sent_at,
        received_at=received_at,
    )
    return await take_messages(intake, SOURCE, incoming, received_at)


async def _authenticate(intake: Intake, request: Request, body: Any, raw: bytes, received_at: datetime) -> Site:
    """The site of the write key in the Basic auth user name, or else in the body's ``writeKey``."""
    intake.ensure_sites_loaded()
    write_key = _basic_auth_user(request.headers.get("authorization", ""))
    if not write_key and isinstance(body, dict):
        write_key = str(body.get("writeKey") or "")
    site = intake.site_of_write_key(write_key)
    if site is None:
        detail = "missing write key" if not write_key else "unknown, rotated-out or revoked write key"
        raise await refuse_request(
            intake, SOURCE, DropReason.INVALID_WRITE_KEY, detail, raw, received_at, status=401, code="invalid_write_key"
        )
    return site


def _basic_auth_user(authorization: str) -> str:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user, _, _ = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return user
