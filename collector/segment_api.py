"""The Segment-compatible tracking API: ``POST /v1/{track,page,screen,identify,group,alias,batch}``.

Segment's and RudderStack's SDKs work unchanged against it: HTTP Basic auth with the write key as user name
(or ``writeKey`` in the body), gzip bodies, 32 KB per message, 500 KB per batch. Each message is validated
at once by the same pipeline the stream runs, so a partly invalid batch gets the valid messages accepted
and a 400 listing every refused one by index; refused messages are kept in the dead letters.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, NoReturn
from uuid import uuid4

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse
from pydantic import ValidationError

from collector.errors import CollectorError, ItemError
from collector.intake import Intake
from collector.request_body import read_json_body
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import Event, HitSource, RawHit
from schemas.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, SegmentBatch
from schemas.sites import Site
from stream_processors.normalize.pipeline import dead_letter_for, normalize_hit
from stream_processors.normalize.steps import Drop

SINGLE_CALLS = ("track", "page", "screen", "identify", "group", "alias")
SOURCE = HitSource.SEGMENT

log = structlog.get_logger("collector.segment_api")


def segment_routes(intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["segment"])

    @router.post("/batch", summary="Send up to 500 KB of messages")
    async def batch(request: Request) -> ORJSONResponse:
        received_at = datetime.now(UTC)
        body, raw = await read_json_body(request, MAX_BATCH_BYTES)
        site = await _authenticate(intake, request, body, raw, received_at)
        try:
            parsed = SegmentBatch.model_validate(body)
        except ValidationError as error:
            await _refuse_request(intake, site, f"not a batch: {error.errors()[0]['msg']}", raw, received_at)
        return await _take(intake, request, site, parsed.batch, parsed.sent_at, received_at)

    for call in SINGLE_CALLS:
        router.add_api_route(f"/{call}", _single_call_endpoint(intake, call), methods=["POST"], summary=f"One {call}")
    return router


def _single_call_endpoint(intake: Intake, call: str) -> Any:
    async def single(request: Request) -> ORJSONResponse:
        received_at = datetime.now(UTC)
        body, raw = await read_json_body(request, MAX_MESSAGE_BYTES)
        site = await _authenticate(intake, request, body, raw, received_at)
        if not isinstance(body, dict):
            await _refuse_request(intake, site, "the body must be a JSON object", raw, received_at)
        return await _take(intake, request, site, [{**body, "type": call}], None, received_at)

    single.__name__ = f"segment_{call}"
    return single


async def _take(
    intake: Intake,
    request: Request,
    site: Site,
    messages: list[Any],
    sent_at: datetime | None,
    received_at: datetime,
) -> ORJSONResponse:
    accepted: list[RawHit] = []
    refused: list[DeadLetter] = []
    errors: list[ItemError] = []
    for index, message in enumerate(messages):
        hit = _raw_hit(request, site, message, sent_at, received_at)
        outcome = _check(message, hit)
        if isinstance(outcome, Drop):
            refused.append(dead_letter_for(hit, outcome, Stage.COLLECTOR, received_at))
            message_id = message.get("messageId") if isinstance(message, dict) else None
            errors.append(
                ItemError(index, outcome.reason.value, outcome.detail, str(message_id) if message_id else None)
            )
        else:
            accepted.append(hit)
    try:
        await intake.accept(SOURCE, accepted)
        await intake.reject(SOURCE, refused)
    except Exception:
        log.exception("batch_not_forwarded", site_id=site.site_id, messages=len(messages))
        intake.count_failure(SOURCE, len(messages))
        raise CollectorError(
            503, "unavailable", "the event stream is unavailable; retry", retry_after_seconds=5
        ) from None
    if errors:
        raise CollectorError(
            400, "invalid_messages", f"{len(errors)} of {len(messages)} messages refused", errors, len(accepted)
        )
    return ORJSONResponse({"success": True})


def _raw_hit(request: Request, site: Site, message: Any, sent_at: datetime | None, received_at: datetime) -> RawHit:
    visitor = ""
    if isinstance(message, dict):
        visitor = str(message.get("anonymousId") or message.get("userId") or "")[:200]
    return RawHit(
        hit_id=uuid4(),
        source=SOURCE,
        received_at=received_at,
        site_id=site.site_id,
        visitor_key=visitor,
        body=orjson.dumps(message).decode(),
        sent_at=sent_at,
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
        referer=request.headers.get("referer", ""),
    )


def _check(message: Any, hit: RawHit) -> Event | Drop:
    if not isinstance(message, dict):
        return Drop(DropReason.INVALID_MESSAGE, "a message must be a JSON object")
    if hit.body is not None and len(hit.body.encode()) > MAX_MESSAGE_BYTES:
        return Drop(DropReason.PAYLOAD_TOO_LARGE, f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    return normalize_hit(hit)


async def _authenticate(intake: Intake, request: Request, body: Any, raw: bytes, received_at: datetime) -> Site:
    """The site of the write key in the Basic auth user name, or else in the body's ``writeKey``."""
    write_key = _basic_auth_user(request.headers.get("authorization", ""))
    if not write_key and isinstance(body, dict):
        write_key = str(body.get("writeKey") or "")
    site = intake.site_of_write_key(write_key)
    if site is None:
        letter = DeadLetter.of_unreadable_payload(
            Stage.COLLECTOR,
            DropReason.INVALID_WRITE_KEY,
            "missing write key" if not write_key else "unknown, rotated-out or revoked write key",
            raw,
            received_at,
        )
        await intake.reject(SOURCE, [letter])
        raise CollectorError(401, "invalid_write_key", "a valid write key is required (HTTP Basic user name)")
    return site


async def _refuse_request(intake: Intake, site: Site, detail: str, raw: bytes, received_at: datetime) -> NoReturn:
    """A body that is not a message or batch at all: kept in dead letters, answered with a 400."""
    letter = DeadLetter.of_unreadable_payload(Stage.COLLECTOR, DropReason.INVALID_MESSAGE, detail, raw, received_at)
    await intake.reject(SOURCE, [letter.model_copy(update={"site_id": site.site_id})])
    raise CollectorError(400, "invalid_message", detail)


def _basic_auth_user(authorization: str) -> str:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user, _, _ = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return user
