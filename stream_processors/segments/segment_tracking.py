"""A person's part in the live segments of their site (pure): evidence kept from their events, memberships,
and the entries and exits to emit.

The evidence is what the rules read (``segment_rules.Evidence``): per match, the times of matching events
(each event once, by its id, so re-deliveries change nothing), the latest event time, the latest value of the
attributes rules use. Events no window can reach any more are let go; a rule counting events ever keeps the
newest ``max_times`` of them.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import overload

from schemas.events import Event
from schemas.segments import Change, SegmentChange
from stream_processors.matching.event_match import CompiledMatch, counts_for_person, field_text
from stream_processors.segments.segment_rules import (
    CompiledSegment,
    Evidence,
    RecencyTest,
    is_member,
    longest_window,
    next_change_ms,
)
from stream_processors.visitors.track_event import milliseconds

LAST_SEEN = "@last_seen"  # the input of recency rules, among the inputs of ``SiteSegments``


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

    @property
    def member_of(self) -> tuple[str, ...]:
        """The ids of the segments the person is in, sorted (as their customer profile shows them)."""
        return tuple(sorted(segment_id for segment_id, membership in self.memberships.items() if membership.member))

    def evidence(self) -> Evidence:
        return Evidence(
            times={key: tuple(ms for ms, _ in kept) for key, kept in self.times.items()},
            last_seen_ms=self.last_seen_ms,
            attributes={name: value for name, (_, _, value) in self.attributes.items()},
        )


class SiteSegments(Sequence[CompiledSegment]):
    """A site's segments, with what every event is checked against worked out once rather than per event: the
    distinct matches, the attributes read, how far back each match's events still count, and what each
    segment reads (its inputs: match keys, attribute names, ``LAST_SEEN``)."""

    def __init__(self, segments: Iterable[CompiledSegment]) -> None:
        self.segments = tuple(segments)
        matches: dict[str, CompiledMatch] = {}
        spans: dict[str, list[int | None]] = {}
        for segment in self.segments:
            matches.update(segment.matches)
            for key, window in segment.windows_ms.items():
                spans.setdefault(key, []).append(window)
        self.matches = tuple(matches.items())
        self.event_names = frozenset(name for match in matches.values() for name in match.events)
        self.attributes = tuple(sorted({name for segment in self.segments for name in segment.attributes}))
        self.reach = {key: longest_window(windows) for key, windows in spans.items()}
        self.inputs = tuple(_inputs(segment) for segment in self.segments)

    @overload
    def __getitem__(self, index: int) -> CompiledSegment: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[CompiledSegment]: ...
    def __getitem__(self, index: int | slice) -> CompiledSegment | Sequence[CompiledSegment]:
        return self.segments[index]

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self) -> Iterator[CompiledSegment]:
        return iter(self.segments)


def site_segments(segments: Sequence[CompiledSegment]) -> SiteSegments:
    return segments if isinstance(segments, SiteSegments) else SiteSegments(segments)


def _inputs(segment: CompiledSegment) -> frozenset[str]:
    inputs = set(segment.matches) | set(segment.attributes)
    if any(isinstance(test, RecencyTest) for test in segment.tests):
        inputs.add(LAST_SEEN)
    return frozenset(inputs)


def track_segments(
    state: PersonSegments, event: Event, segments: Sequence[CompiledSegment], now: datetime, max_times: int
) -> tuple[PersonSegments, tuple[SegmentChange, ...]]:
    """Keep what ``segments`` read of ``event``, then evaluate at ``now`` the segments whose inputs it changed.

    The others cannot have changed since they were last evaluated except at a moment time alone changes them
    (``next_evaluation``), when the person is evaluated in full: so a due evaluation not yet made must be kept
    when the person is rescheduled after this event (``SegmentTimers.schedule``)."""
    if not counts_for_person(event) or (not segments and state.empty):
        return state, ()
    site = site_segments(segments)
    kept, touched = _with_event(state, event, site, max_times)
    kept = _without_the_unreachable(kept, site, milliseconds(now))
    kept, changes = evaluate_segments(
        kept, site, now, event.site_id, event.person_id, str(event.event_id), touched=touched
    )
    return (state if kept == state else kept), changes


def evaluate_segments(
    state: PersonSegments,
    segments: Sequence[CompiledSegment],
    now: datetime,
    site_id: str,
    person_id: str,
    event_id: str = "",
    touched: frozenset[str] | None = None,
) -> tuple[PersonSegments, tuple[SegmentChange, ...]]:
    """Memberships at ``now``, and the changes since the last evaluation (memberships of segments no longer
    defined are let go; a segment's new version starts with nobody in it). ``touched``: only the segments
    reading one of these inputs (``SiteSegments.inputs``) are evaluated, the others keep their membership."""
    now_ms = milliseconds(now)
    evidence = state.evidence()
    memberships: dict[str, Membership] = {}
    changes = []
    site = site_segments(segments)
    for segment, inputs in zip(site, site.inputs, strict=True):
        segment_id = segment.definition.segment_id
        before = state.memberships.get(segment_id)
        if before is None or before.version != segment.version:
            before = Membership(segment.version, False, 0)
        elif touched is not None and touched.isdisjoint(inputs):
            memberships[segment_id] = before
            continue
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
    state: PersonSegments, event: Event, segments: SiteSegments, max_times: int
) -> tuple[PersonSegments, frozenset[str]]:
    """The evidence with ``event`` kept, and the inputs it changed."""
    event_ms = milliseconds(event.event_time)
    event_key = event.event_id.hex[:16]
    touched: set[str] = set()
    times = state.times
    if event.event_name in segments.event_names:
        times = dict(times)
        for key, match in segments.matches:
            kept = times.get(key, ())
            if (event_ms, event_key) in kept or not match.matches(event):
                continue
            updated = list(kept)
            insort(updated, (event_ms, event_key))
            times[key] = tuple(updated[-max_times:])
            touched.add(key)
    attributes = state.attributes
    for name in segments.attributes:
        value = field_text(event, name)
        latest = attributes.get(name)
        if value and (latest is None or (event_ms, event_key) > latest[:2]):
            if attributes is state.attributes:
                attributes = dict(attributes)
            attributes[name] = (event_ms, event_key, value)
            touched.add(name)
    last_seen = event_ms if state.last_seen_ms is None else max(state.last_seen_ms, event_ms)
    if last_seen != state.last_seen_ms:
        touched.add(LAST_SEEN)
    return PersonSegments(times, last_seen, attributes, state.memberships), frozenset(touched)


def _without_the_unreachable(state: PersonSegments, segments: SiteSegments, now_ms: int) -> PersonSegments:
    """Drop event times no rule's window reaches any more, and evidence of matches no segment uses."""
    times = {}
    for key, kept in state.times.items():
        if key not in segments.reach:
            continue
        window = segments.reach[key]
        times[key] = kept if window is None else tuple(item for item in kept if item[0] > now_ms - window)
    return PersonSegments(times, state.last_seen_ms, state.attributes, state.memberships)
