"""One person's progress through one funnel, advanced by each of their events in any order (pure).

The progress keeps the events that matter to the funnel (as ``StepEntry``), so a late or out-of-order event
lands where it belongs and the furthest step is what ``windowFunnel`` gives over all of the person's events.
Duplicates change nothing: an event already kept is skipped, and in any case an entry repeated gives the same
step. Strict funnels also keep the events that match no step (they break a chain), every one of them: a late
first step may land anywhere among them, and it is the next one after it that ends its chain (keeping only the
first and last of a run of them got two late steps inside one run wrong). Beyond ``max_entries`` the oldest
entries are let go and the step they had reached is kept as ``settled_step``, a floor: exact for people with
fewer entries, and never a step taken back.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.events import Event
from schemas.funnels import FunnelTransition
from stream_processors.funnels.funnel_steps import CompiledFunnel
from stream_processors.funnels.window_funnel import StepEntry, furthest_step


@dataclass(frozen=True, slots=True)
class FunnelProgress:
    version: str  # the funnel version it was made under; another version starts over
    step: int
    sequence: int  # transitions emitted so far (in this version)
    settled_step: int
    entries: tuple[StepEntry, ...]


def advance_funnel(
    progress: FunnelProgress | None,
    funnel: CompiledFunnel,
    event: Event,
    event_ms: int,
    now: datetime,
    max_entries: int,
) -> tuple[FunnelProgress | None, FunnelTransition | None]:
    """The progress with ``event`` counted, and the transition if its furthest step changed."""
    steps = funnel.matching_steps(event)
    if progress is None or progress.version != funnel.version:
        if not steps and not funnel.strict:
            return None, None  # (progress made under another version is let go)
        progress = FunnelProgress(funnel.version, 0, 0, 0, ())
    elif not steps and not funnel.strict:
        return progress, None
    key = event.event_id.hex[:16]
    if any(entry[2] == key for entry in progress.entries):
        return progress, None
    entries = list(progress.entries)
    for step in steps or [0]:
        insort(entries, (event_ms, step, key))
    settled = progress.settled_step
    if len(entries) > max_entries:
        settled = max(settled, progress.step)
        del entries[: len(entries) - max_entries]
    reach = furthest_step(entries, len(funnel.steps), funnel.window_ms, strict=funnel.strict)
    step = max(settled, reach.step)
    kept = FunnelProgress(funnel.version, step, progress.sequence, settled, tuple(entries))
    if step == progress.step:
        return kept, None
    reached_at_ms = reach.reached_at_ms if reach.step == step else event_ms
    transition = FunnelTransition(
        site_id=event.site_id,
        funnel_id=funnel.definition.funnel_id,
        funnel_version=funnel.version,
        person_id=event.person_id,
        sequence=progress.sequence + 1,
        from_step=progress.step,
        to_step=step,
        step_name=funnel.step_names[step - 1] if step else "",
        reached_at=datetime.fromtimestamp(reached_at_ms / 1000, UTC),
        event_id=event.event_id,
        event_time=event.event_time,
        emitted_at=now,
    )
    return FunnelProgress(funnel.version, step, progress.sequence + 1, settled, tuple(entries)), transition
