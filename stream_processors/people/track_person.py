"""The per-person stage (pure): one event of a person, their state, the site's definitions -> new state and
what changed (funnel transitions, email deliveries, a new customer profile version, segment entries and exits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from schemas.email import EmailDelivery
from schemas.events import Event
from schemas.funnels import FunnelTransition
from schemas.profiles import CustomerProfile
from schemas.segments import SegmentChange
from stream_processors.email.email_deliveries import EmailRules, track_email
from stream_processors.funnels.funnel_progress import FunnelProgress, advance_funnel
from stream_processors.funnels.funnel_steps import CompiledFunnel
from stream_processors.journeys.journey_progress import CompiledJourney, JourneyProgress, advance_journey
from stream_processors.matching.event_match import counts_for_person
from stream_processors.people.person_state import PersonState
from stream_processors.profiles.track_profile import ProfileRules, track_profile
from stream_processors.segments.segment_rules import CompiledSegment
from stream_processors.segments.segment_tracking import site_segments, track_segments
from stream_processors.visitors.track_event import milliseconds


@dataclass(frozen=True)
class PersonRules:
    funnels: Sequence[CompiledFunnel] = ()  # the site's
    max_funnel_entries: int = 256
    email: EmailRules = field(default_factory=EmailRules)
    profiles: ProfileRules = field(default_factory=ProfileRules)
    segments: Sequence[CompiledSegment] = ()  # the site's
    max_segment_times: int = 1000
    journey: CompiledJourney | None = None  # the site's customer journey

    def __post_init__(self) -> None:
        # (the segments' index is worked out once per site's rules, not per event)
        object.__setattr__(self, "segments", site_segments(self.segments))


@dataclass(frozen=True)
class PersonChanges:
    state: PersonState
    funnel_transitions: tuple[FunnelTransition, ...] = ()
    email_deliveries: tuple[EmailDelivery, ...] = ()
    profile: CustomerProfile | None = None  # the person's profile, if this event changed it
    segment_changes: tuple[SegmentChange, ...] = ()
    changed: bool = False  # the state differs from the one given: it must be stored


def track_person(
    state: PersonState, event: Event, rules: PersonRules, now: datetime, stream_time_ms: int = 0, partition: int = 0
) -> PersonChanges:
    """Count ``event`` in the person's funnels, email figures, profile and segments (evaluated at ``now``).
    ``stream_time_ms``: the highest receipt time seen on the event's partition (by default the event's own)."""
    funnels, transitions = _track_funnels(state.funnels, event, rules, now)
    journey = state.journey
    if rules.journey is not None and counts_for_person(event):
        journey, journey_transition = advance_journey(
            journey, rules.journey, event, milliseconds(event.event_time), now
        )
        transitions += (journey_transition,) if journey_transition is not None else ()
    email, deliveries = track_email(state.email, event, rules.email, now)
    segments, segment_changes = track_segments(state.segments, event, rules.segments, now, rules.max_segment_times)
    stream_time_ms = max(stream_time_ms, milliseconds(event.received_at))
    stage = _stage_name(journey, rules.journey)
    profile, profile_version = track_profile(
        state.profile, event, rules.profiles, stream_time_ms, partition, now, stage, segments.member_of
    )
    changed = (
        funnels is not state.funnels
        or email is not state.email
        or profile is not state.profile
        or segments is not state.segments
        or journey is not state.journey
    )
    new_state = (
        replace(state, funnels=funnels, email=email, profile=profile, segments=segments, journey=journey)
        if changed
        else state
    )
    return PersonChanges(new_state, transitions, deliveries, profile_version, segment_changes, changed)


def _track_funnels(
    progress: dict[str, FunnelProgress], event: Event, rules: PersonRules, now: datetime
) -> tuple[dict[str, FunnelProgress], tuple[FunnelTransition, ...]]:
    """Progress in funnels no longer defined is let go; the same dict back when nothing changed."""
    if not counts_for_person(event) or (not rules.funnels and not progress):
        return progress, ()
    event_ms = milliseconds(event.event_time)
    progress_by_funnel: dict[str, FunnelProgress] = {}
    transitions = []
    for funnel in rules.funnels:
        funnel_id = funnel.definition.funnel_id
        after, transition = advance_funnel(
            progress.get(funnel_id), funnel, event, event_ms, now, rules.max_funnel_entries
        )
        if after is not None:
            progress_by_funnel[funnel_id] = after
        if transition is not None:
            transitions.append(transition)
    if progress_by_funnel == progress:
        return progress, tuple(transitions)
    return progress_by_funnel, tuple(transitions)


def _stage_name(journey: JourneyProgress | None, definition: CompiledJourney | None) -> str:
    """The person's customer-journey stage, by name, for their profile ('' before the first stage)."""
    if journey is None or definition is None or not journey.stage or journey.version != definition.version:
        return ""
    return definition.stage_names[journey.stage - 1]
