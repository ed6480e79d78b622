"""A person's stage in the customer journey, advanced by their events in any order (pure).

Each criterion is "at least N matching events"; of its matching events the progress keeps the N earliest (time,
id), which is all it needs: the criterion holds when N are kept, and it first held at the latest of them. An
event already kept, or later than all N kept, changes nothing, so duplicates and late events end where the
count over all events ends (``journey_sql.py``).
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.events import Event
from schemas.funnels import FunnelTransition
from schemas.journeys import JOURNEY_FUNNEL_ID, JourneyDefinition
from stream_processors.matching.event_match import CompiledMatch, compile_match
from stream_processors.segments.segment_rules import match_key

Kept = tuple[tuple[int, str], ...]  # the N earliest (ms, event id) of a criterion's matching events


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    match: CompiledMatch
    at_least: int


@dataclass(frozen=True, slots=True)
class CompiledJourney:
    definition: JourneyDefinition
    version: str
    stages: tuple[tuple[Criterion, ...], ...]
    stage_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JourneyProgress:
    version: str
    stage: int
    sequence: int
    kept: dict[str, Kept]


def compile_journey(definition: JourneyDefinition) -> CompiledJourney:
    return CompiledJourney(
        definition=definition,
        version=definition.version,
        stages=tuple(
            tuple(
                Criterion(f"{match_key(rule.count)}:{rule.at_least}", compile_match(rule.count), rule.at_least)
                for rule in stage.any_of
            )
            for stage in definition.stages
        ),
        stage_names=tuple(stage.name for stage in definition.stages),
    )


def advance_journey(
    progress: JourneyProgress | None, journey: CompiledJourney, event: Event, event_ms: int, now: datetime
) -> tuple[JourneyProgress | None, FunnelTransition | None]:
    if progress is None or progress.version != journey.version:
        progress = JourneyProgress(journey.version, 0, 0, {})
    kept = progress.kept
    item = (event_ms, event.event_id.hex[:16])
    for criteria in journey.stages:
        for criterion in criteria:
            before = kept.get(criterion.key, ())
            if item in before or not criterion.match.matches(event):
                continue
            if len(before) == criterion.at_least and item > before[-1]:
                continue
            updated = list(before)
            insort(updated, item)
            if kept is progress.kept:
                kept = dict(kept)
            kept[criterion.key] = tuple(updated[: criterion.at_least])
    if kept is progress.kept:
        return (progress if progress.kept or progress.stage else None), None
    stage, reached_ms = _furthest_stage(journey, kept)
    if stage == progress.stage:
        return JourneyProgress(journey.version, stage, progress.sequence, kept), None
    transition = FunnelTransition(
        site_id=event.site_id,
        funnel_id=JOURNEY_FUNNEL_ID,
        funnel_version=journey.version,
        person_id=event.person_id,
        sequence=progress.sequence + 1,
        from_step=progress.stage,
        to_step=stage,
        step_name=journey.stage_names[stage - 1],
        reached_at=datetime.fromtimestamp(reached_ms / 1000, UTC),
        event_id=event.event_id,
        event_time=event.event_time,
        emitted_at=now,
    )
    return JourneyProgress(journey.version, stage, progress.sequence + 1, kept), transition


def _furthest_stage(journey: CompiledJourney, kept: dict[str, Kept]) -> tuple[int, int]:
    """The furthest stage whose criterion holds, and the event time it first held."""
    for number in range(len(journey.stages), 0, -1):
        held = [kept[c.key][-1][0] for c in journey.stages[number - 1] if len(kept.get(c.key, ())) >= c.at_least]
        if held:
            return number, min(held)
    return 0, 0
