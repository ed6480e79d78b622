"""One person's progress through one funnel, advanced by each of their events in any order (pure).

The progress keeps the events that matter to the funnel (as ``StepEntry``), so a late or out-of-order event
lands where it belongs and the furthest step is what ``windowFunnel`` gives over all of the person's events.
Duplicates change nothing: an event already kept is skipped, and in any case an entry repeated gives the same
step. Strict funnels also keep the events that match no step (they break a chain), every one of them: a late
first step may land anywhere among them, and it is the next one after it that ends its chain (keeping only the
first and last of a run of them got two late steps inside one run wrong). Beyond ``max_entries`` the oldest
entries are let go and the step they had reached is kept as ``settled_step``, a floor: exact for people with
fewer entries, and never a step taken back.

A funnel's exclusions end the person's attempt: the progress keeps the time of their latest exclusion event
(``excluded_ms``) and only the entries after it, and an event no later than it counts for nothing, so a late
exclusion takes back the steps before it and a late step before it is ignored. A new latest exclusion lets the
``settled_step`` floor go too: exact when the exclusion is later than every entry let go (always, unless it
comes after more than ``max_entries`` newer events); otherwise the steps those forgotten entries took after
it are lost with them, and the step may be lower than ``windowFunnel``'s.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, replace
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
    excluded_ms: int | None = None  # the time of the person's latest exclusion event: only later events count


def advance_funnel(
    progress: FunnelProgress | None,
    funnel: CompiledFunnel,
    event: Event,
    event_ms: int,
    now: datetime,
    max_entries: int,
) -> tuple[FunnelProgress | None, FunnelTransition | None]:
    """The progress with ``event`` counted, and the transition if its furthest step changed."""
    excluded = funnel.excludes(event)
    steps = [] if excluded else funnel.matching_steps(event)
    kept_by_funnel = excluded or steps or funnel.strict
    if progress is None or progress.version != funnel.version:
        if not kept_by_funnel:
            return None, None  # (progress made under another version is let go)
        progress = FunnelProgress(funnel.version, 0, 0, 0, ())
    elif not kept_by_funnel:
        return progress, None
    if progress.excluded_ms is not None and event_ms <= progress.excluded_ms:
        return progress, None  # (in an attempt already ended, or an exclusion no later than the latest)
    if excluded:
        counted = _attempt_ended(progress, event_ms)
    else:
        key = event.event_id.hex[:16]
        if any(entry[2] == key for entry in progress.entries):
            return progress, None
        counted = _with_entries(progress, [(event_ms, step, key) for step in steps or [0]], max_entries)
    reach = furthest_step(counted.entries, len(funnel.steps), funnel.window_ms, strict=funnel.strict)
    step = max(counted.settled_step, reach.step)
    if step == progress.step:
        return counted, None
    reached_at_ms = reach.reached_at_ms if step and reach.step == step else event_ms
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
    return replace(counted, step=step, sequence=progress.sequence + 1), transition


def _with_entries(progress: FunnelProgress, new: list[StepEntry], max_entries: int) -> FunnelProgress:
    """The new entries in their places; beyond ``max_entries`` the oldest go, their step kept as the floor."""
    entries = list(progress.entries)
    for entry in new:
        insort(entries, entry)
    settled = progress.settled_step
    if len(entries) > max_entries:
        settled = max(settled, progress.step)
        del entries[: len(entries) - max_entries]
    return replace(progress, settled_step=settled, entries=tuple(entries))


def _attempt_ended(progress: FunnelProgress, excluded_ms: int) -> FunnelProgress:
    """An exclusion at ``excluded_ms``, later than any before: only the entries after it stay, and no floor."""
    entries = tuple(entry for entry in progress.entries if entry[0] > excluded_ms)
    return replace(progress, settled_step=0, entries=entries, excluded_ms=excluded_ms)
