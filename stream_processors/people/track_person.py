"""The per-person stage (pure): one event of a person, their state, the funnels of the site -> new state and
what changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.events import Event
from schemas.funnels import FunnelTransition
from stream_processors.funnels.funnel_progress import FunnelProgress, advance_funnel
from stream_processors.funnels.funnel_steps import CompiledFunnel, counts_for_funnels
from stream_processors.people.person_state import PersonState
from stream_processors.visitors.track_event import milliseconds


@dataclass(frozen=True)
class PersonChanges:
    state: PersonState
    funnel_transitions: tuple[FunnelTransition, ...] = ()
    changed: bool = False  # the state differs from the one given: it must be stored


def track_person(
    state: PersonState, event: Event, funnels: Sequence[CompiledFunnel], now: datetime, max_funnel_entries: int
) -> PersonChanges:
    """Count ``event`` in each of its site's ``funnels``; progress in funnels no longer defined is let go."""
    if not counts_for_funnels(event):
        return PersonChanges(state)
    event_ms = milliseconds(event.event_time)
    progress_by_funnel: dict[str, FunnelProgress] = {}
    transitions = []
    for funnel in funnels:
        funnel_id = funnel.definition.funnel_id
        before = state.funnels.get(funnel_id)
        after, transition = advance_funnel(before, funnel, event, event_ms, now, max_funnel_entries)
        if after is not None:
            progress_by_funnel[funnel_id] = after
        if transition is not None:
            transitions.append(transition)
    changed = progress_by_funnel != state.funnels
    return PersonChanges(PersonState(progress_by_funnel) if changed else state, tuple(transitions), changed)
