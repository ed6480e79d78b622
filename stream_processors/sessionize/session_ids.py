"""Session ids: deterministic, and never given to two sessions of a visitor.

A session that needs a new id takes ``uuid5(SESSION_NAMESPACE, "site_id:visitor_id:first_event_id")``, named
after its first event. A late event can, rarely, make an event the first of a new session a second time (say
its session was merged into an earlier one, then split again at the same event); the second time, the name
gets a suffix (``…:first_event_id:2``, ``:3``…), so no id ever stands for two sessions in ``beacon.sessions``.
"""

from __future__ import annotations

from collections.abc import Container
from uuid import NAMESPACE_URL, uuid5

SESSION_NAMESPACE = uuid5(NAMESPACE_URL, "https://beacon.dev/sessions")


def new_session_id(site_id: str, visitor_id: str, first_event_id: str, in_use: Container[str]) -> str:
    """The id of a new session that starts at ``first_event_id``: the first of its names not ``in_use``."""
    name = f"{site_id}:{visitor_id}:{first_event_id}"
    session_id = str(uuid5(SESSION_NAMESPACE, name))
    suffix = 2
    while session_id in in_use:
        session_id = str(uuid5(SESSION_NAMESPACE, f"{name}:{suffix}"))
        suffix += 1
    return session_id
