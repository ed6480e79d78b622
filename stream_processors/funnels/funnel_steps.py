"""Which steps of a funnel an event counts as: a funnel's definition compiled for the stream."""

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

    def matching_steps(self, event: Event) -> list[int]:
        """The steps (1-based) ``event`` counts as; an event may count as several."""
        return [number for number, step in enumerate(self.steps, start=1) if step.matches(event)]


def compile_funnel(definition: FunnelDefinition) -> CompiledFunnel:
    return CompiledFunnel(
        definition=definition,
        version=definition.version,
        window_ms=definition.window_ms,
        strict=definition.order is FunnelOrder.STRICT,
        steps=tuple(compile_match(step) for step in definition.steps),
        step_names=tuple(step.name for step in definition.steps),
    )
