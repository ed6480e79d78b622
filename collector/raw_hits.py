"""Turn an HTTP request into a ``RawHit`` (or a collector-stage ``DeadLetter``). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import HitSource, RawHit


def raw_hit_from_query(
    *,
    hit_id: UUID,
    source: HitSource,
    received_at: datetime,
    query: Mapping[str, str],
    ip: str,
    user_agent: str,
    referer: str,
) -> RawHit:
    # model_construct: every field is built here from typed values, so validation would only cost time.
    return RawHit.model_construct(
        hit_id=hit_id,
        source=source,
        received_at=received_at,
        site_id=query.get("site", ""),
        visitor_key=query.get("aid", ""),
        query=dict(query),
        ip=ip,
        user_agent=user_agent,
        referer=referer,
    )


def oversized_query(*, hit_id: UUID, received_at: datetime, query_string: str, limit: int) -> DeadLetter:
    """A hit whose query string exceeds ``limit`` bytes: kept whole in dead letters, never forwarded."""
    return DeadLetter(
        dead_letter_id=hit_id,
        stage=Stage.COLLECTOR,
        reason=DropReason.PAYLOAD_TOO_LARGE,
        detail=f"query string of {len(query_string.encode())} bytes exceeds the limit of {limit}",
        site_id="",
        received_at=received_at,
        rejected_at=received_at,
        payload=query_string,
    )
