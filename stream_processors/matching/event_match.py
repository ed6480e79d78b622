"""An ``EventMatch`` compiled for the stream: does this event match, reading its fields as beacon.events
stores them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from schemas.event_matching import PROPERTY_PREFIX, Condition, EventMatch
from schemas.events import Event


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
