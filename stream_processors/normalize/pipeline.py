"""The normalize pipeline: a raw hit in, exactly one of ``Event`` or ``Drop``/``DeadLetter`` out.

The collector runs ``normalize_hit`` too, to answer JSON API callers with per-item errors at once; the
stream runs it again on the raw hit (it is deterministic), so the raw topic stays the replayable truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import Event, RawHit
from schemas.validation import first_problem
from stream_processors.normalize.sources import SOURCE_ADAPTERS
from stream_processors.normalize.steps import (
    Drop,
    EventDraft,
    HitFields,
    anonymise_ip,
    check_typed_properties,
    keep_whole_ip,
    put_event_id,
    put_event_name,
    put_event_time,
    put_locale,
    put_properties,
    put_url,
    require_site_id,
)

Step = Callable[[HitFields, EventDraft], EventDraft | Drop]

log = structlog.get_logger("normalize")


def normalize_steps(*, keep_full_ip: bool = False) -> Sequence[Step]:
    """The steps in order; the client's IP is anonymised unless the operator opted out (a setting)."""
    return (
        require_site_id,
        put_event_id,
        put_event_name,
        put_url,
        put_event_time,
        put_properties,
        check_typed_properties,
        put_locale,
        keep_whole_ip if keep_full_ip else anonymise_ip,
    )


NORMALIZE_STEPS = normalize_steps()


def normalize_hit(hit: RawHit, steps: Sequence[Step] = NORMALIZE_STEPS) -> Event | Drop:
    """Read the hit with its source's adapter, then run ``steps`` in order; the first ``Drop`` ends it."""
    fields = SOURCE_ADAPTERS[hit.source](hit)
    if isinstance(fields, Drop):
        return fields
    draft = EventDraft()
    for step in steps:
        outcome = step(fields, draft)
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
        anonymous_id=fields.anonymous_id,
        user_id=fields.user_id,
        url=draft.url,
        referrer=fields.referrer,
        user_agent=fields.user_agent,
        ip=draft.ip,
        locale=draft.locale,
        do_not_track=hit.do_not_track,
        global_privacy_control=hit.global_privacy_control,
        consent=fields.consent,
        properties=dict(draft.properties),
        source=hit.source,
        time_clamped=draft.time_clamped,
    )


def dead_letter_for(hit: RawHit, drop: Drop, stage: Stage, rejected_at: datetime) -> DeadLetter:
    """The dead letter of a dropped hit: its id, its reason, and the raw hit itself for replay."""
    return DeadLetter.of_text(
        hit.hit_id, stage, drop.reason, drop.detail, hit.site_id, hit.received_at, rejected_at, hit.model_dump_json()
    )


def read_raw_hit(payload: bytes, rejected_at: datetime) -> RawHit | DeadLetter:
    """Decode one raw-hits message; one that is not a ``RawHit`` becomes a dead letter keeping its bytes."""
    try:
        return RawHit.model_validate_json(payload)
    except ValidationError as error:
        return DeadLetter.of_unreadable_payload(
            Stage.NORMALIZE,
            DropReason.UNPARSEABLE_PAYLOAD,
            f"not a RawHit: {first_problem(error)}",
            payload,
            rejected_at,
        )


def normalize_raw_hit(
    hit: RawHit, rejected_at: datetime, steps: Sequence[Step] = NORMALIZE_STEPS
) -> Event | DeadLetter:
    """Normalize a decoded hit; a failing step is a bug, kept as a replayable dead letter, never an error."""
    try:
        outcome = normalize_hit(hit, steps)
    except Exception as error:  # a bug in a step must not stop the agent nor lose the hit: keep it for replay
        log.exception("pipeline_error", hit_id=str(hit.hit_id))
        outcome = Drop(DropReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}"[:500])
    if isinstance(outcome, Event):
        return outcome
    return dead_letter_for(hit, outcome, Stage.NORMALIZE, rejected_at)


def normalize_payload(
    payload: bytes, now: datetime | None = None, steps: Sequence[Step] = NORMALIZE_STEPS
) -> Event | DeadLetter:
    """Decode one raw-hits message and normalize it; anything unusable becomes a dead letter, never an error."""
    rejected_at = now or datetime.now(UTC)
    hit = read_raw_hit(payload, rejected_at)
    if isinstance(hit, DeadLetter):
        return hit
    return normalize_raw_hit(hit, rejected_at, steps)
