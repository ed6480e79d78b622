"""Segment rules compiled for the stream, and evaluated at a moment over what is kept of a person (pure).

Membership is a function of the person's events and the moment ``now``, so the stream and the SQL of
``segment_sql.py`` agree: a rule counts only events at or before ``now``. ``next_change_ms`` is the next moment
at which time alone could change a rule's answer (a counted event leaves a window, a deadline passes), when the
stream must look at the person again.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.event_matching import Condition, EventMatch
from schemas.segments import AbsenceRule, CountRule, RecencyRule, SegmentDefinition, window_ms
from stream_processors.matching.event_match import CompiledMatch, compile_match

Times = tuple[int, ...]  # event times (ms) of the person's events matching one match, sorted


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the rules read of a person: matching event times by match, latest event time, latest attributes."""

    times: dict[str, Times]
    last_seen_ms: int | None
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class CountTest:
    match: str
    at_least: int
    at_most: int | None
    window_ms: int | None


@dataclass(frozen=True, slots=True)
class AbsenceTest:
    did: str
    then_not: str
    within_ms: int
    window_ms: int | None


@dataclass(frozen=True, slots=True)
class RecencyTest:
    not_seen_for_ms: int | None
    seen_within_ms: int | None


@dataclass(frozen=True, slots=True)
class AttributeTest:
    attribute: str
    condition: Condition


Test = CountTest | AbsenceTest | RecencyTest | AttributeTest


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    definition: SegmentDefinition
    version: str
    tests: tuple[Test, ...]
    matches: dict[str, CompiledMatch]  # by match key: shared by every segment of a site that uses it
    attributes: frozenset[str]
    windows_ms: dict[str, int | None]  # per match key: how far back its events can still count (None: ever)


def match_key(match: EventMatch) -> str:
    """A short name for a match, the same in every segment that uses it (the person's state is keyed by it)."""
    return hashlib.blake2b(match.model_dump_json(by_alias=True).encode(), digest_size=6).hexdigest()


def compile_segment(definition: SegmentDefinition) -> CompiledSegment:
    tests: list[Test] = []
    matches: dict[str, CompiledMatch] = {}
    windows: dict[str, list[int | None]] = {}
    for rule in definition.rules:
        if isinstance(rule, CountRule):
            key = match_key(rule.count)
            matches[key] = compile_match(rule.count)
            tests.append(CountTest(key, rule.at_least, rule.at_most, window_ms(rule.in_last)))
            windows.setdefault(key, []).append(window_ms(rule.in_last))
        elif isinstance(rule, AbsenceRule):
            did, then_not = match_key(rule.did), match_key(rule.then_not)
            matches[did], matches[then_not] = compile_match(rule.did), compile_match(rule.then_not)
            within = window_ms(rule.within) or 0
            tests.append(AbsenceTest(did, then_not, within, window_ms(rule.in_last)))
            last = window_ms(rule.in_last)
            windows.setdefault(did, []).append(last)
            windows.setdefault(then_not, []).append(None if last is None else last + within)
        elif isinstance(rule, RecencyRule):
            tests.append(RecencyTest(window_ms(rule.not_seen_for), window_ms(rule.seen_within)))
        else:
            tests.append(AttributeTest(rule.attribute, rule.condition))
    attributes = frozenset(test.attribute for test in tests if isinstance(test, AttributeTest))
    longest = {key: longest_window(spans) for key, spans in windows.items()}
    return CompiledSegment(definition, definition.version, tuple(tests), matches, attributes, longest)


def longest_window(spans: Sequence[int | None]) -> int | None:
    """The furthest back any of ``spans`` reaches (None: a span without a window, which reaches everything)."""
    return None if None in spans else max(span for span in spans if span is not None)


def is_member(segment: CompiledSegment, evidence: Evidence, now_ms: int) -> bool:
    return all(_holds(test, evidence, now_ms) for test in segment.tests)


def next_change_ms(segments: Iterable[CompiledSegment], evidence: Evidence, now_ms: int) -> int | None:
    """The first moment after ``now_ms`` at which time alone may change a rule of ``segments``."""
    moments = [
        moment
        for segment in segments
        for test in segment.tests
        if (moment := _next_moment(test, evidence, now_ms)) is not None
    ]
    return min(moments, default=None)


def _holds(test: Test, evidence: Evidence, now_ms: int) -> bool:
    if isinstance(test, CountTest):
        count = sum(1 for ms in _window(evidence.times.get(test.match, ()), test.window_ms, now_ms))
        return count >= test.at_least and (test.at_most is None or count <= test.at_most)
    if isinstance(test, AbsenceTest):
        return any(
            _abandoned(did, test, evidence, now_ms)
            for did in _window(evidence.times.get(test.did, ()), test.window_ms, now_ms)
        )
    if isinstance(test, RecencyTest):
        last = evidence.last_seen_ms
        if test.not_seen_for_ms is not None:
            return last is not None and last <= now_ms - test.not_seen_for_ms
        return last is not None and last > now_ms - (test.seen_within_ms or 0)
    return test.condition.holds_for(evidence.attributes.get(test.attribute, ""))


def _abandoned(did: int, test: AbsenceTest, evidence: Evidence, now_ms: int) -> bool:
    """Its time is up, and no ``then_not`` event followed within it."""
    deadline = did + test.within_ms
    if deadline > now_ms:
        return False
    return not any(did <= ms <= deadline for ms in evidence.times.get(test.then_not, ()))


def _window(times: Sequence[int], window: int | None, now_ms: int) -> Iterable[int]:
    """The times in (now - window, now]; all times up to now without a window."""
    start = None if window is None else now_ms - window
    return (ms for ms in times if ms <= now_ms and (start is None or ms > start))


def _next_moment(test: Test, evidence: Evidence, now_ms: int) -> int | None:
    """The first moment after ``now_ms`` at which time alone may change ``test``: an event dated after now
    starts to count, a counted event leaves its window, a deadline passes (the times are sorted: bisected)."""
    if isinstance(test, CountTest):
        times = evidence.times.get(test.match, ())
        offsets: tuple[int | None, ...] = (0, test.window_ms)
    elif isinstance(test, AbsenceTest):
        times = evidence.times.get(test.did, ())
        offsets = (0, test.within_ms, test.window_ms)
    elif isinstance(test, RecencyTest) and evidence.last_seen_ms is not None:
        moment = evidence.last_seen_ms + (test.not_seen_for_ms or test.seen_within_ms or 0)
        return moment if moment > now_ms else None
    else:
        return None
    if not times:
        return None
    moments = [
        times[index] + offset
        for offset in offsets
        if offset is not None and (index := bisect_right(times, now_ms - offset)) < len(times)
    ]
    return min(moments, default=None)
