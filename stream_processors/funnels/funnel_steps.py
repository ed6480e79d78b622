"""Which steps of a funnel an event counts as, and whether it ends an attempt: a definition compiled for the
stream."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import Event
from schemas.funnels import FunnelDefinition, FunnelOrder
from stream_processors.matching.event_match import CompiledMatch, compile_match


@dataclass(frozen=True, slots=True)
class CompiledFunnel:
    definition: FunnelDefinition
    version: str
    window_ms: int
    strict: bool
    steps: tuple[CompiledMatch, ...]
    step_names: tuple[str, ...]
    exclusions: tuple[CompiledMatch, ...]

    def matching_steps(self, event: Event) -> list[int]:
        """The steps (1-based) ``event`` counts as; an event may count as several."""
        return [number for number, step in enumerate(self.steps, start=1) if step.matches(event)]

    def excludes(self, event: Event) -> bool:
        """Whether ``event`` ends the person's attempt (it then counts as no step: ``schemas.funnels``)."""
        return any(exclusion.matches(event) for exclusion in self.exclusions)


def compile_funnel(definition: FunnelDefinition) -> CompiledFunnel:
    return CompiledFunnel(
        definition=definition,
        version=definition.version,
        window_ms=definition.window_ms,
        strict=definition.order is FunnelOrder.STRICT,
        steps=tuple(compile_match(step) for step in definition.steps),
        step_names=tuple(step.name for step in definition.steps),
        exclusions=tuple(compile_match(exclusion) for exclusion in definition.exclusions),
    )
