"""A person's part in the live segments of their site (pure): evidence kept from their events, memberships,
and the entries and exits to emit.

The evidence is what the rules read (``segment_rules.Evidence``): per match, the times of matching events
(each event once, by its id, so re-deliveries change nothing), the latest event time, the latest value of the
attributes rules use. Events no window can reach any more are let go; a rule counting events ever keeps the
newest ``max_times`` of them.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.events import Event
from schemas.segments import Change, SegmentChange
from stream_processors.matching.event_match import counts_for_person, field_text
from stream_processors.segments.segment_rules import CompiledSegment, Evidence, is_member, next_change_ms
from stream_processors.visitors.track_event import milliseconds


@dataclass(frozen=True, slots=True)
class Membership:
    version: str
    member: bool
    sequence: int


@dataclass(frozen=True, slots=True)
class PersonSegments:
    times: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)  # match key -> sorted (ms, id)
    last_seen_ms: int | None = None
    attributes: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # name -> (ms, event id, value)
    memberships: dict[str, Membership] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.last_seen_ms is None and not self.memberships

    def evidence(self) -> Evidence:
        return Evidence(
            times={key: tuple(ms for ms, _ in kept) for key, kept in self.times.items()},
            last_seen_ms=self.last_seen_ms,
            attributes={name: value for name, (_, _, value) in self.attributes.items()},
        )


def track_segments(
    state: PersonSegments, event: Event, segments: Sequence[CompiledSegment], now: datetime, max_times: int
) -> tuple[PersonSegments, tuple[SegmentChange, ...]]:
    """Keep what ``segments`` read of ``event``, then evaluate them at ``now``."""
    if not counts_for_person(event) or (not segments and state.empty):
        return state, ()
    kept = _with_event(state, event, segments, max_times)
    kept = _without_the_unreachable(kept, segments, milliseconds(now))
    kept, changes = evaluate_segments(kept, segments, now, event.site_id, event.person_id, str(event.event_id))
    return (state if kept == state else kept), changes


def evaluate_segments(
    state: PersonSegments,
    segments: Sequence[CompiledSegment],
    now: datetime,
    site_id: str,
    person_id: str,
    event_id: str = "",
) -> tuple[PersonSegments, tuple[SegmentChange, ...]]:
    """Memberships at ``now``, and the changes since the last evaluation (memberships of segments no longer
    defined are let go; a segment's new version starts with nobody in it)."""
    now_ms = milliseconds(now)
    evidence = state.evidence()
    memberships: dict[str, Membership] = {}
    changes = []
    for segment in segments:
        segment_id = segment.definition.segment_id
        before = state.memberships.get(segment_id)
        if before is None or before.version != segment.version:
            before = Membership(segment.version, False, 0)
        member = is_member(segment, evidence, now_ms)
        if member == before.member:
            memberships[segment_id] = before
            continue
        memberships[segment_id] = Membership(segment.version, member, before.sequence + 1)
        changes.append(
            SegmentChange(
                site_id=site_id,
                segment_id=segment_id,
                segment_version=segment.version,
                person_id=person_id,
                change=Change.ENTERED if member else Change.EXITED,
                sequence=before.sequence + 1,
                changed_at=now,
                event_id=event_id,
            )
        )
    return PersonSegments(state.times, state.last_seen_ms, state.attributes, memberships), tuple(changes)


def next_evaluation(state: PersonSegments, segments: Sequence[CompiledSegment], now: datetime) -> datetime | None:
    """When time alone may next change the person's memberships (None: only an event can)."""
    moment = next_change_ms(segments, state.evidence(), milliseconds(now))
    return None if moment is None else datetime.fromtimestamp(moment / 1000, UTC)


def _with_event(
    state: PersonSegments, event: Event, segments: Sequence[CompiledSegment], max_times: int
) -> PersonSegments:
    event_ms = milliseconds(event.event_time)
    event_key = event.event_id.hex[:16]
    times = dict(state.times)
    for segment in segments:
        for key, match in segment.matches.items():
            kept = times.get(key, ())
            if (event_ms, event_key) in kept or not match.matches(event):
                continue
            updated = list(kept)
            insort(updated, (event_ms, event_key))
            times[key] = tuple(updated[-max_times:])
    attributes = dict(state.attributes)
    for name in {name for segment in segments for name in segment.attributes}:
        value = field_text(event, name)
        latest = attributes.get(name)
        if value and (latest is None or (event_ms, event_key) > latest[:2]):
            attributes[name] = (event_ms, event_key, value)
    last_seen = event_ms if state.last_seen_ms is None else max(state.last_seen_ms, event_ms)
    return PersonSegments(times, last_seen, attributes, state.memberships)


def _without_the_unreachable(state: PersonSegments, segments: Sequence[CompiledSegment], now_ms: int) -> PersonSegments:
    """Drop event times no rule's window reaches any more, and evidence of matches no segment uses."""
    reach: dict[str, int | None] = {}
    for segment in segments:
        for key, window in segment.windows_ms.items():
            reach[key] = (
                None if window is None or (key in reach and reach[key] is None) else max(window, reach.get(key) or 0)
            )
    times = {}
    for key, kept in state.times.items():
        if key not in reach:
            continue
        window = reach[key]
        times[key] = kept if window is None else tuple(item for item in kept if item[0] > now_ms - window)
    return PersonSegments(times, state.last_seen_ms, state.attributes, state.memberships)
