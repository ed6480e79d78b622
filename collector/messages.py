"""Taking a list of JSON messages (Segment API, browser API): check each, forward the good, keep the bad.

Each message is checked by the same pure pipeline the stream runs, so a caller learns at once which
messages were refused and why; the others are accepted. Refused messages go to the dead letters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import uuid4

import orjson
import structlog
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from collector.errors import CollectorError
from collector.intake import Intake
from collector.raw_hits import client_context
from collector.request_body import UnreadableBodyError, read_json_body
from collector.responses import json_response
from schemas.answers import Accepted, ItemRefusal
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import MAX_MESSAGE_BYTES, Event, HitSource, RawHit
from schemas.validation import first_problem
from stream_processors.normalize.pipeline import dead_letter_for, normalize_hit
from stream_processors.normalize.steps import Drop

ModelT = TypeVar("ModelT", bound=BaseModel)

log = structlog.get_logger("collector.messages")
ACCEPTED = Accepted().model_dump()


@dataclass(frozen=True)
class IncomingMessage:
    message: Any  # the JSON value as received
    hit: RawHit
    message_id: str | None


def incoming_messages(
    request: Request,
    *,
    source: HitSource,
    site_id: str,
    messages: list[Any],
    visitor_fields: tuple[str, ...],
    id_field: str,
    sent_at: datetime | None,
    received_at: datetime,
) -> list[IncomingMessage]:
    """One raw hit per message; the visitor key is the first of ``visitor_fields`` a message has."""
    client = client_context(request)
    incoming = []
    for message in messages:
        fields = message if isinstance(message, dict) else {}
        visitor_key = next((str(fields[name]) for name in visitor_fields if fields.get(name)), "")
        hit = RawHit(
            hit_id=uuid4(),
            source=source,
            received_at=received_at,
            site_id=site_id,
            visitor_key=visitor_key[:200],
            body=orjson.dumps(message).decode(),
            sent_at=sent_at,
            **client.fields(),
        )
        message_id = fields.get(id_field)
        incoming.append(IncomingMessage(message, hit, str(message_id) if message_id else None))
    return incoming


async def take_messages(
    intake: Intake,
    source: HitSource,
    messages: list[IncomingMessage],
    received_at: datetime,
    admit: Callable[[RawHit], Drop | None] = lambda _: None,
) -> Response:
    """Accept the valid messages and refuse the others: ``200 {"success": true}`` or a 400 listing them.

    ``admit`` refuses a message before it is validated (e.g. its site is unknown, when sites vary per item).
    """
    accepted: list[RawHit] = []
    refused: list[DeadLetter] = []
    errors: list[ItemRefusal] = []
    for index, incoming in enumerate(messages):
        outcome = admit(incoming.hit) or _check(incoming)
        if isinstance(outcome, Drop):
            letter = dead_letter_for(incoming.hit, outcome, Stage.COLLECTOR, received_at)
            refused.append(letter)
            errors.append(
                ItemRefusal(
                    index=index,
                    message_id=incoming.message_id,
                    reason=outcome.reason.value,
                    detail=outcome.detail,
                    dead_letter_id=letter.dead_letter_id,
                )
            )
        else:
            accepted.append(incoming.hit)
    try:
        await intake.accept(source, accepted)
        await intake.reject(source, refused)
    except Exception:  # neither the broker nor the spool took them: the caller must retry
        log.exception("messages_not_forwarded", source=source.value, messages=len(messages))
        raise _unavailable(intake, source, len(messages)) from None
    if errors:
        raise CollectorError(
            400, "invalid_messages", f"{len(errors)} of {len(messages)} messages refused", errors, len(accepted)
        )
    return json_response(ACCEPTED)


async def refuse_request(
    intake: Intake, source: HitSource, reason: DropReason, detail: str, raw: bytes, received_at: datetime,
    *, site_id: str = "", status: int = 400, code: str = "invalid_message", retry_after_seconds: int | None = None,
    payload_bytes: int | None = None,
) -> CollectorError:  # fmt: skip
    """Keep a request that is refused as a whole in the dead letters; returns the error to raise."""
    letter = DeadLetter.of_unreadable_payload(
        Stage.COLLECTOR, reason, detail, raw, received_at, site_id=site_id, payload_bytes=payload_bytes
    )
    try:
        await intake.reject(source, [letter])
    except Exception:  # neither the broker nor the spool took it: the caller must retry
        log.exception("refusal_not_recorded", source=source.value, reason=reason.value)
        return _unavailable(intake, source, 1)
    return CollectorError(
        status, code, detail, retry_after_seconds=retry_after_seconds, dead_letter_id=letter.dead_letter_id
    )


async def read_body(
    intake: Intake, source: HitSource, request: Request, limit_bytes: int, received_at: datetime
) -> tuple[Any, bytes]:
    """The request's JSON body; an unreadable one is kept in the dead letters and refused (400, 413, 415)."""
    try:
        return await read_json_body(request, limit_bytes)
    except UnreadableBodyError as refusal:
        raise await refuse_request(
            intake, source, refusal.reason, refusal.detail, refusal.payload, received_at, status=refusal.status,
            code=refusal.code, payload_bytes=refusal.payload_bytes,
        ) from None  # fmt: skip


async def validated(
    intake: Intake, source: HitSource, model: type[ModelT], body: Any, raw: bytes, received_at: datetime,
    *, site_id: str = "",
) -> ModelT:  # fmt: skip
    """The request body as ``model``, or a 400 naming the first problem (the body kept in dead letters)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        detail = first_problem(error)
    raise await refuse_request(intake, source, DropReason.INVALID_MESSAGE, detail, raw, received_at, site_id=site_id)


async def enforce_rate_limit(
    intake: Intake, source: HitSource, client_ip: str | None, site_id: str, events: int, raw: bytes,
    received_at: datetime,
) -> None:  # fmt: skip
    """Raise a 429 with Retry-After (and keep the request in dead letters) when a rate limit is exceeded."""
    limited = intake.throttle(client_ip, site_id, events)
    if limited is None:
        return
    drop, wait = limited
    raise await refuse_request(
        intake, source, drop.reason, drop.detail, raw, received_at, site_id=site_id, status=429,
        code="rate_limited", retry_after_seconds=max(1, math.ceil(min(wait, 3600))),
    )  # fmt: skip


def _unavailable(intake: Intake, source: HitSource, count: int) -> CollectorError:
    intake.count_failure(source, count)
    return CollectorError(503, "unavailable", "the event stream is unavailable; retry", retry_after_seconds=5)


def _check(incoming: IncomingMessage) -> Event | Drop | None:
    """The message's event, why it is refused, or None when the check itself failed (a bug in Beacon): then
    the message is accepted, and the stream keeps it in the dead letters (``pipeline_error``) for replay."""
    if not isinstance(incoming.message, dict):
        return Drop(DropReason.INVALID_MESSAGE, "a message must be a JSON object")
    if incoming.hit.body is not None and len(incoming.hit.body.encode()) > MAX_MESSAGE_BYTES:
        return Drop(DropReason.PAYLOAD_TOO_LARGE, f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        return normalize_hit(incoming.hit)
    except Exception:
        log.exception("message_check_failed", hit_id=str(incoming.hit.hit_id))
        return None
