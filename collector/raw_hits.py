"""Turn an HTTP request into a ``RawHit`` (or a collector-stage ``DeadLetter``). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from starlette.requests import Request

from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import HitSource, RawHit


@dataclass(frozen=True)
class ClientContext:
    """What the request says about its client; the field names are ``RawHit``'s."""

    ip: str
    user_agent: str
    referer: str
    accept_language: str
    do_not_track: bool
    global_privacy_control: bool


def client_context(request: Request) -> ClientContext:
    """The one place that reads the client's headers (the IP is the proxy-resolved one, see settings)."""
    headers = request.headers
    return ClientContext(
        ip=request.client.host if request.client else "",
        user_agent=headers.get("user-agent", ""),
        referer=headers.get("referer", ""),
        accept_language=headers.get("accept-language", "")[:200],
        do_not_track=headers.get("dnt") == "1",
        global_privacy_control=headers.get("sec-gpc") == "1",
    )


def raw_hit_from_query(
    *, hit_id: UUID, source: HitSource, received_at: datetime, query: Mapping[str, str], client: ClientContext
) -> RawHit:
    # model_construct: every field is built here from typed values, so validation would only cost time.
    return RawHit.model_construct(
        hit_id=hit_id,
        source=source,
        received_at=received_at,
        site_id=query.get("site", ""),
        visitor_key=query.get("aid", ""),
        query=dict(query),
        body=None,
        sent_at=None,
        **asdict(client),
    )


def oversized_query(*, hit_id: UUID, received_at: datetime, query_string: str, limit: int) -> DeadLetter:
    """A hit whose query string exceeds ``limit`` bytes: kept whole in dead letters, never forwarded."""
    detail = f"query string of {len(query_string.encode())} bytes exceeds the limit of {limit}"
    return DeadLetter.of_text(
        hit_id, Stage.COLLECTOR, DropReason.PAYLOAD_TOO_LARGE, detail, "", received_at, received_at, query_string
    )
