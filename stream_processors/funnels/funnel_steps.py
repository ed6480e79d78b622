"""Which steps of a funnel an event counts as: a funnel's definition compiled for the stream."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from schemas.events import Event
from schemas.funnels import PROPERTY_PREFIX, Condition, FunnelDefinition, FunnelOrder

IGNORED_EVENTS = frozenset({"page_ping"})  # engagement heartbeats, not steps nor "other events" between steps


@dataclass(frozen=True, slots=True)
class CompiledStep:
    events: frozenset[str]
    conditions: tuple[tuple[str, Condition], ...]

    def matches(self, event: Event) -> bool:
        return event.event_name in self.events and all(
            condition.holds_for(field_text(event, field)) for field, condition in self.conditions
        )


@dataclass(frozen=True, slots=True)
class CompiledFunnel:
    definition: FunnelDefinition
    version: str
    window_ms: int
    strict: bool
    steps: tuple[CompiledStep, ...]
    step_names: tuple[str, ...]

    def matching_steps(self, event: Event) -> list[int]:
        """The steps (1-based) ``event`` counts as; an event may count as several."""
        return [number for number, step in enumerate(self.steps, start=1) if step.matches(event)]


def compile_funnel(definition: FunnelDefinition) -> CompiledFunnel:
    return CompiledFunnel(
        definition=definition,
        version=definition.version,
        window_ms=definition.window_ms,
        strict=definition.order is FunnelOrder.STRICT,
        steps=tuple(CompiledStep(frozenset(step.event), tuple(step.where.items())) for step in definition.steps),
        step_names=tuple(step.name for step in definition.steps),
    )


def counts_for_funnels(event: Event) -> bool:
    """Page pings and bots are not in funnels, nor events of no one (no ids and no usable IP)."""
    return not event.is_bot and event.event_name not in IGNORED_EVENTS and bool(event.person_id)


def field_text(event: Event, field: str) -> str:
    """A field as beacon.events stores it: text, '' for a missing property."""
    if field.startswith(PROPERTY_PREFIX):
        return event.properties.get(field[len(PROPERTY_PREFIX) :], "")
    value = getattr(event, field)
    return str(value.value) if isinstance(value, Enum) else str(value)
