"""An ``EventMatch`` compiled for the stream: does this event match, reading its fields as beacon.events
stores them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from schemas.event_matching import PROPERTY_PREFIX, Condition, EventMatch
from schemas.events import Event

# Engagement heartbeats: engagement's business (sessions, page engagement), not behaviour that funnels,
# segments, journeys and profiles count, nor "another event" between two steps of a strict funnel.
NOT_COUNTED_EVENTS = frozenset({"page_ping"})


def counts_for_person(event: Event) -> bool:
    """What the per-person stage counts: not page pings, not bots, not events of no one (no ids, no usable IP);
    ``match_sql.person_events_sql`` is the same choice in SQL."""
    return not event.is_bot and event.event_name not in NOT_COUNTED_EVENTS and bool(event.person_id)


@dataclass(frozen=True, slots=True)
class CompiledMatch:
    events: frozenset[str]
    conditions: tuple[tuple[str, Condition], ...]

    def matches(self, event: Event) -> bool:
        return event.event_name in self.events and all(
            condition.holds_for(field_text(event, field)) for field, condition in self.conditions
        )


def compile_match(match: EventMatch) -> CompiledMatch:
    return CompiledMatch(frozenset(match.event), tuple(match.where.items()))


def field_text(event: Event, field: str) -> str:
    """A field as beacon.events stores it: text, '' for a missing property."""
    if field.startswith(PROPERTY_PREFIX):
        return event.properties.get(field[len(PROPERTY_PREFIX) :], "")
    value = getattr(event, field)
    return str(value.value) if isinstance(value, Enum) else str(value)
