"""The enrich pipeline: a validated ``Event`` and its ``RawHit`` in, the same event with its enrichment out.

Runs after normalize, on the raw hit too, because the client's full IP lives only there (the event's is
masked): geolocation, the datacenter check and the visitor hash need the whole address, which is used here
and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from schemas.events import Event, RawHit
from stream_processors.enrich.context import EnrichContext, load_enrich_context
from stream_processors.enrich.steps import (
    EVENT_FIELDS,
    EnrichmentDraft,
    EnrichSubject,
    flag_bot,
    put_channel,
    put_geolocation,
    put_mail_fetcher,
    put_referrer,
    put_user_agent,
    put_utm_tags,
    put_visitor_hash,
    subject_of,
)

__all__ = ["ENRICH_STEPS", "EnrichContext", "enrich_event", "load_enrich_context"]

Step = Callable[[EnrichSubject, EnrichmentDraft, EnrichContext], EnrichmentDraft]

ENRICH_STEPS: Sequence[Step] = (
    put_user_agent,
    put_geolocation,
    flag_bot,  # after put_geolocation: it reads the IP's network
    put_mail_fetcher,  # after flag_bot
    put_referrer,
    put_utm_tags,
    put_channel,  # after put_referrer and put_utm_tags
    put_visitor_hash,
)

log = structlog.get_logger("enrich")


def enrich_event(event: Event, hit: RawHit, context: EnrichContext, steps: Sequence[Step] = ENRICH_STEPS) -> Event:
    """Run ``steps`` in order and return the enriched event; never raises.

    A step that fails (a bug: steps turn bad input into empty fields) is logged as ``enrich_step_failed`` and
    skipped, so the event still goes on with everything the other steps found.
    """
    try:
        subject = subject_of(event, hit)
    except Exception:
        log.exception("enrich_step_failed", step="subject_of", event_id=str(event.event_id))
        subject = EnrichSubject(event=event, client_ip="", page_host="", page_query="")
    draft = EnrichmentDraft()
    for step in steps:
        try:
            draft = step(subject, draft, context)
        except Exception:
            log.exception("enrich_step_failed", step=step.__name__, event_id=str(event.event_id))
    return event.model_copy(update={name: getattr(draft, name) for name in EVENT_FIELDS})
