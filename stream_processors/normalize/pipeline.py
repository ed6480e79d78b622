"""The normalize pipeline: raw hit bytes in, exactly one of ``Event`` or ``DeadLetter`` out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import Event, RawHit
from stream_processors.normalize.steps import (
    Drop,
    EventDraft,
    anonymise_ip,
    put_event_id,
    put_event_name,
    put_event_time,
    put_identity,
    put_properties,
    put_referrer,
    put_url,
    require_site_id,
)

Step = Callable[[RawHit, EventDraft], EventDraft | Drop]

NORMALIZE_STEPS: Sequence[Step] = (
    require_site_id,
    put_event_id,
    put_event_name,
    put_url,
    put_identity,
    put_referrer,
    put_event_time,
    put_properties,
    anonymise_ip,
)


def normalize_hit(hit: RawHit, steps: Sequence[Step] = NORMALIZE_STEPS) -> Event | Drop:
    """Run ``steps`` in order; the first ``Drop`` ends the pipeline."""
    draft = EventDraft()
    for step in steps:
        outcome = step(hit, draft)
        if isinstance(outcome, Drop):
            return outcome
        draft = outcome
    assert draft.event_id is not None, "put_event_id always sets it"
    assert draft.event_time is not None, "put_event_time always sets it"
    return Event(
        event_id=draft.event_id,
        site_id=draft.site_id,
        event_name=draft.event_name,
        event_time=draft.event_time,
        received_at=hit.received_at,
        anonymous_id=draft.anonymous_id,
        user_id=draft.user_id,
        url=draft.url,
        referrer=draft.referrer,
        user_agent=hit.user_agent,
        ip=draft.ip,
        properties=draft.properties,
        source=hit.source,
    )


def normalize_payload(payload: bytes, now: datetime | None = None) -> Event | DeadLetter:
    """Decode one raw-hits message and normalize it; anything unusable becomes a dead letter, never an error."""
    rejected_at = now or datetime.now(UTC)
    try:
        hit = RawHit.model_validate_json(payload)
    except ValidationError as error:
        return DeadLetter.of_unreadable_payload(
            Stage.NORMALIZE,
            DropReason.UNPARSEABLE_PAYLOAD,
            f"not a RawHit: {error.errors()[0]['msg'] if error.errors() else error}",
            payload,
            rejected_at,
        )
    outcome = normalize_hit(hit)
    if isinstance(outcome, Event):
        return outcome
    return DeadLetter(
        dead_letter_id=hit.hit_id,
        stage=Stage.NORMALIZE,
        reason=outcome.reason,
        detail=outcome.detail,
        site_id=hit.site_id,
        received_at=hit.received_at,
        rejected_at=rejected_at,
        payload=payload.decode(errors="replace"),
    )
