"""Identity resolution for one visitor: ``identify`` (or any event carrying both ids) links an anonymous id to a
user id; ``alias`` links a former user id to the new one. Pure: the caller keeps the visitor's known user id.
"""

from __future__ import annotations

from typing import NamedTuple

from schemas.events import Event
from schemas.stream_records import IdentityKind, IdentityLink


class ResolvedIdentity(NamedTuple):
    user_id: str  # the event's user id, else the one the visitor was last identified as ("" if never)
    links: tuple[IdentityLink, ...]  # links this event made that were not known yet


def resolve_identity(event: Event, known_user_id: str) -> ResolvedIdentity:
    """Later events of an identified visitor carry its user id; a new link is emitted once, when it appears.

    Links are versioned by event time in ClickHouse (``beacon.identities`` is a ReplacingMergeTree on
    ``linked_at``), so a re-sent link changes nothing and the latest identify of an anonymous id wins.
    """
    links: list[IdentityLink] = []
    user_id = event.user_id or known_user_id
    if event.user_id and event.anonymous_id and event.user_id != known_user_id:
        links.append(_link(event, event.anonymous_id, IdentityKind.ANONYMOUS))
    previous_id = event.properties.get("previous_id", "") if event.event_name == "alias" else ""
    if previous_id and event.user_id and previous_id != event.user_id:
        links.append(_link(event, previous_id, IdentityKind.ALIAS))
    return ResolvedIdentity(user_id, tuple(links))


def _link(event: Event, identifier: str, kind: IdentityKind) -> IdentityLink:
    return IdentityLink(
        site_id=event.site_id,
        identifier=identifier,
        kind=kind,
        user_id=event.user_id,
        linked_at=event.event_time,
        event_id=event.event_id,
    )
