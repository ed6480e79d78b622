"""The stream worker's per-person agent: enriched events -> funnel progress, email figures, customer profiles and
live segments -> ``beacon.funnel_transitions``, ``beacon.email_deliveries``, ``beacon.customer_profiles``,
``beacon.segment_changes`` and each segment's own topic.

It reads ``beacon.events`` (written by ``hits_agent``), keyed by site and person (the user id when known, else
the visitor), so each person's state lives in one partition of the ``people`` table. The step is pure
(``people/track_person.py``); this module is its I/O: definitions, the table, the topic, the metrics.

Delivery is as in ``hits_agent``: a person's new state reaches its changelog only after the transitions it
led to are acknowledged, so after a crash an event either counts as a duplicate (its state change survived,
and so did its records) or writes again exactly what it wrote (same sequence numbers: the table and the
topic's consumers see a repeat).

Segments also change with time alone (a deadline passes, a window slides): after each event the person's next
such moment is scheduled (``segments/segment_timers.py``), and a timer evaluates the people who are due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from faust import StreamT, web
from faust.events import Event as FaustEvent
from prometheus_client import Counter, Gauge, Histogram

from runtime.definitions import DefinitionFolder
from runtime.kafka_topics import ensure_topics
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import Event
from schemas.journeys import default_journey
from schemas.segments import SEGMENT_TOPIC_PREFIX, SegmentChange
from schemas.topics import (
    CUSTOMER_PROFILES,
    DEAD_LETTERS,
    EMAIL_DELIVERIES,
    EVENTS,
    FUNNEL_TRANSITIONS,
    PERSON_STATE_CHANGELOG,
    PERSON_STATE_TABLE,
    SEGMENT_CHANGES,
    events_partition,
    segment_topic,
)
from stream_processors.app import app, settings
from stream_processors.decoded_states import DecodedStates
from stream_processors.funnels.funnel_steps import CompiledFunnel, compile_funnel
from stream_processors.journeys.journey_progress import CompiledJourney, compile_journey
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.profiles.idle_profiles import IdleProfiles
from stream_processors.profiles.track_profile import HOUR_MS, ProfileRules, profile_in_segments
from stream_processors.record_producer import send_bytes, send_model
from stream_processors.segments.segment_rules import CompiledSegment, compile_segment
from stream_processors.segments.segment_timers import SegmentTimers
from stream_processors.segments.segment_tracking import evaluate_segments, next_evaluation
from stream_processors.state_changelog import Delivery, OrderedChangelog
from stream_processors.visitors.track_event import milliseconds

TRANSITIONS = Counter("beacon_stream_funnel_transitions_total", "Funnel transitions emitted", ["funnel_id"])
EMAIL_DELIVERY_CHANGES = Counter("beacon_stream_email_delivery_changes_total", "Email delivery rows emitted")
PROFILE_VERSIONS = Counter("beacon_stream_profile_versions_total", "Customer profile versions emitted")
PERSON_ERRORS = Counter("beacon_stream_person_errors_total", "Events the per-person stage failed on")
FUNNELS_DEFINED = Gauge("beacon_stream_funnels_defined", "Funnels the stream worker runs")
DEFINITION_PROBLEMS = Gauge("beacon_stream_definition_problems", "Definition files the worker could not use")
SEGMENT_CHANGES_SENT = Counter("beacon_stream_segment_changes_total", "Segment entries and exits", ["change"])
SEGMENTS_DEFINED = Gauge("beacon_stream_segments_defined", "Segments the stream worker runs")
SEGMENT_TIMERS = Gauge("beacon_stream_segment_timers", "People waiting for time to change a membership")
SEGMENT_TIMER_LAG = Histogram(
    "beacon_stream_segment_timer_lag_seconds", "How late a time-driven segment evaluation ran after it was due",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)  # fmt: skip
EVENT_SECONDS = Histogram(
    "beacon_stream_person_event_seconds", "Processing time of one event by the per-person stage",
    buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3),
)  # fmt: skip

log = structlog.get_logger("stream")
events_topic = app.topic(EVENTS.name, partitions=EVENTS.partitions)
people = app.Table(PERSON_STATE_TABLE, partitions=EVENTS.partitions, key_type=bytes, value_type=bytes)
decoded_people = DecodedStates(decode_person_state, settings.stream_decoded_people)
definitions = DefinitionFolder(settings.definitions_dir)
EMAIL_RULES = settings.email_rules()
_rules_by_site: dict[str, PersonRules] = {}
_funnel_versions: dict[str, str] = {}
_segment_versions: dict[str, str] = {}
_journeys_by_site: dict[str, CompiledJourney] = {}
_segment_topics_ready: set[str] = set()
_defined_segment_topics: set[str] = set()
SEGMENT_TIMER_SECONDS = 0.2
SEGMENT_EVALUATIONS_PER_TICK = 2000
_profile_rules_by_site: dict[str, ProfileRules] = {}
PROFILE_MEMORY_MS = round(settings.stream_person_memory_hours * HOUR_MS)
DEFINITIONS_POLL_SECONDS = 1.0


def _profile_rules(site_id: str) -> ProfileRules:
    """The site's RFM thresholds if it has its own (``config/profiles/<site_id>.yaml``), else the defaults."""
    return _profile_rules_by_site.get(site_id) or ProfileRules(dedup_ms=PROFILE_MEMORY_MS)


def load_definitions() -> None:
    """Re-read the definitions if their files changed; an unusable file is logged and left out. A segment runs
    once its topic exists (``ensure_segment_topics``)."""
    if not definitions.changed():
        return
    read = definitions.read_funnels()
    segments = definitions.read_segments()
    journeys = definitions.read_journeys()
    profile_settings = definitions.read_profile_settings()
    problems = read.problems + segments.problems + journeys.problems + profile_settings.problems
    for problem in problems:
        log.error("definition_not_used", problem=problem)
    _profile_rules_by_site.clear()
    _profile_rules_by_site.update(
        {site: ProfileRules(own.rfm, PROFILE_MEMORY_MS) for site, own in profile_settings.by_site.items()}
    )
    funnels_by_site: dict[str, list[CompiledFunnel]] = {}
    for funnel in read.funnels:
        funnels_by_site.setdefault(funnel.site_id, []).append(compile_funnel(funnel))
    _defined_segment_topics.clear()
    _defined_segment_topics.update(segment.topic for segment in segments.segments)
    segments_by_site: dict[str, list[CompiledSegment]] = {}
    for segment in segments.segments:
        if segment.topic in _segment_topics_ready:
            segments_by_site.setdefault(segment.site_id, []).append(compile_segment(segment))
    _journeys_by_site.clear()
    _journeys_by_site.update({site: compile_journey(journey) for site, journey in journeys.by_site.items()})
    _rules_by_site.clear()
    _rules_by_site.update(
        {
            site: _site_rules(site, funnels_by_site.get(site, ()), segments_by_site.get(site, ()))
            for site in funnels_by_site.keys() | segments_by_site.keys()
        }
    )
    _funnel_versions.clear()
    _funnel_versions.update({funnel.funnel_id: funnel.version for funnel in read.funnels})
    _segment_versions.clear()
    _segment_versions.update(
        {segment.definition.segment_id: segment.version for site in segments_by_site.values() for segment in site}
    )
    FUNNELS_DEFINED.set(len(read.funnels))
    SEGMENTS_DEFINED.set(len(_segment_versions))
    DEFINITION_PROBLEMS.set(len(problems))
    log.info("definitions_loaded", funnels=sorted(_funnel_versions), segments=sorted(_segment_versions))


async def ensure_segment_topics() -> None:
    """Create the topics of newly defined segments; they are read on the next ``load_definitions``."""
    if not _defined_segment_topics - _segment_topics_ready:
        return
    wanted = _defined_segment_topics - _segment_topics_ready
    try:
        await ensure_topics(
            settings.kafka_bootstrap,
            [segment_topic(name) for name in sorted(wanted)],
            replication_factor=settings.kafka_replication_factor,
        )
    except Exception as error:  # the broker is away: the segments wait, and this is tried again
        log.warning("segment_topics_not_created", topics=sorted(wanted), error=str(error)[:300])
        return
    _segment_topics_ready.update(wanted)
    definitions.forget_changes()


def _site_rules(
    site_id: str, funnels: Sequence[CompiledFunnel] = (), segments: Sequence[CompiledSegment] = ()
) -> PersonRules:
    return PersonRules(
        funnels=tuple(funnels),
        max_funnel_entries=settings.stream_funnel_max_entries,
        email=EMAIL_RULES,
        profiles=_profile_rules(site_id),
        segments=tuple(segments),
        journey=_journeys_by_site.get(site_id) or compile_journey(default_journey(site_id)),
    )


load_definitions()


@app.timer(interval=DEFINITIONS_POLL_SECONDS)  # type: ignore[untyped-decorator]  # (faust's decorators are untyped)
async def follow_definitions() -> None:
    await ensure_segment_topics()
    load_definitions()


@app.page("/definitions")
async def loaded_definitions(view: web.View, request: web.Request) -> web.Response:
    """The funnels and segments this worker runs, by id and version: what ``./beacon funnels|segments list``
    compare with; and the sites with their own profile settings (RFM thresholds)."""
    profiles = {site: rules.rfm.model_dump(mode="json") for site, rules in _profile_rules_by_site.items()}
    return view.json({"funnels": dict(_funnel_versions), "segments": dict(_segment_versions), "profiles": profiles})


@app.agent(events_topic, name="track_people")
async def track_people(stream: StreamT[bytes]) -> None:
    async for record in stream.events():
        with EVENT_SECONDS.time():
            await _process(record)


async def _process(record: FaustEvent) -> None:
    message = record.message
    payload = cast(bytes, record.value)
    key = cast(bytes, message.key)
    now = datetime.now(UTC)
    try:
        event = Event.model_validate_json(payload)
        if not event.person_id:
            return  # an event of no one (no ids, no usable IP): nothing to keep
        state = _state_of(key) or PersonState()
        stream_time = idle_profiles.clock.advance(message.partition, milliseconds(event.received_at))
        changes = track_person(state, event, _rules_for(event.site_id), now, stream_time, message.partition)
    except Exception as error:  # a bug must not stop the agent: the event stays in beacon.events, kept here too
        PERSON_ERRORS.inc()
        log.exception("person_stage_error", key=key.decode(errors="replace"))
        await _send_dead_letter(payload, error, now)
        return
    if not changes.changed:
        return
    deliveries: list[Delivery] = []
    for transition in changes.funnel_transitions:
        TRANSITIONS.labels(transition.funnel_id).inc()
        deliveries.append(await send_model(FUNNEL_TRANSITIONS.name, key, transition))
    for email_delivery in changes.email_deliveries:
        EMAIL_DELIVERY_CHANGES.inc()
        deliveries.append(await send_model(EMAIL_DELIVERIES.name, key, email_delivery))
    if changes.profile is not None:
        PROFILE_VERSIONS.inc()
        deliveries.append(await send_model(CUSTOMER_PROFILES.name, key, changes.profile))
    deliveries += await _send_segment_changes(key, changes.segment_changes)
    _set_state(message.partition, key, changes.state, deliveries)
    _schedule(key, message.partition, changes.state, event.site_id, now)
    if changes.state.profile is not None:  # (after each event, at most two idle people are swept)
        idle_profiles.clock.touched(message.partition, key, changes.state.profile.last_active_ms)
    idle_profiles.sweep(message.partition, stream_time)


def _set_state(partition: int, key: bytes, state: PersonState, after: Sequence[Delivery] = ()) -> None:
    """The table in memory now; its changelog once ``after`` is delivered (``state_changelog``)."""
    value = None if state.empty else encode_person_state(state)
    decoded_people.remember(key, value, state)
    if value is None:
        people.data.pop(key, None)
    else:
        people.data[key] = value
    changelog.write(partition, key, value, after)


def _rules_for(site_id: str) -> PersonRules:
    rules = _rules_by_site.get(site_id)
    if rules is None:
        rules = _rules_by_site[site_id] = _site_rules(site_id)
    return rules


async def _send_segment_changes(key: bytes, changes: Sequence[SegmentChange]) -> list[Delivery]:
    """Each change on the segment's own topic (for marketing tools) and on the one the warehouse reads."""
    deliveries = []
    for change in changes:
        SEGMENT_CHANGES_SENT.labels(change.change.value).inc()
        value = change.model_dump_json().encode()
        deliveries.append(await send_bytes(SEGMENT_TOPIC_PREFIX + change.segment_id, key, value, None))
        deliveries.append(await send_bytes(SEGMENT_CHANGES.name, key, value, None))
    return deliveries


def _schedule(key: bytes, partition: int, state: PersonState, site_id: str, now: datetime) -> None:
    segments = _rules_for(site_id).segments
    due = next_evaluation(state.segments, segments, now) if segments else None
    timers.schedule(key, partition, None if due is None else milliseconds(due), milliseconds(now))
    SEGMENT_TIMERS.set(len(timers))


@app.timer(interval=SEGMENT_TIMER_SECONDS)  # type: ignore[untyped-decorator]
async def evaluate_due_segments() -> None:
    """Evaluate the people whose memberships time alone may have changed."""
    if not _timers_restored.is_set():
        _restore_timers()
    now = datetime.now(UTC)
    now_ms = milliseconds(now)
    for key, partition, due_ms in timers.due(now_ms, SEGMENT_EVALUATIONS_PER_TICK):
        SEGMENT_TIMER_LAG.observe(max(0, now_ms - due_ms) / 1000)
        state = _state_of(key)
        if state is None:
            continue
        site_id, person_id = key.decode().split(":", 1)
        rules = _rules_for(site_id)
        segments, changes = evaluate_segments(state.segments, rules.segments, now, site_id, person_id)
        if segments != state.segments:
            new_state = replace(state, segments=segments)
            deliveries = await _send_segment_changes(key, changes)
            if state.profile is not None:  # (its profile shows the segments the person is in)
                profile, version = profile_in_segments(
                    state.profile, segments.member_of, site_id, person_id, rules.profiles.rfm, now
                )
                new_state = replace(new_state, profile=profile)
                if version is not None:
                    PROFILE_VERSIONS.inc()
                    deliveries.append(await send_model(CUSTOMER_PROFILES.name, key, version))
            _set_state(partition, key, new_state, deliveries)
            state = new_state
        _schedule(key, partition, state, site_id, now)


def _restore_timers() -> None:
    """After a start or a rebalance, once the table is recovered: schedule everyone who has segments."""
    if not cast(Any, app.tables).recovery.completed.is_set():  # (faust's TableManager types omit it)
        return
    for key, stored in list(people.items()):
        site_id = key.split(b":", 1)[0].decode(errors="replace")
        if _rules_for(site_id).segments:
            _schedule(key, events_partition(key), decode_person_state(stored), site_id, datetime.now(UTC))
    _timers_restored.set()


async def _send_dead_letter(payload: bytes, error: Exception, now: datetime) -> None:
    """Kept with the event as it was read, so it can be looked at and replayed once the bug is fixed."""
    letter = DeadLetter.of_unreadable_payload(
        Stage.PEOPLE, DropReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}"[:500], payload, now
    )
    await send_model(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter)


changelog = OrderedChangelog(PERSON_STATE_CHANGELOG.name, send_bytes)
timers = SegmentTimers()
_timers_restored = asyncio.Event()


@app.on_partitions_revoked.connect
async def stop_timers_of_revoked(_: Any, /, *arguments: Any, signal: Any, **__: Any) -> None:
    revoked = arguments[0] if arguments else set()  # (faust sends the revoked TPs as the first argument)
    for partition in {tp.partition for tp in revoked if tp.topic == EVENTS.name}:
        timers.forget_partition(partition)


@app.on_partitions_assigned.connect
async def restore_timers_of_assigned(_: Any, /, *__: Any, signal: Any, **___: Any) -> None:
    _timers_restored.clear()  # (the next timer tick, once the table is recovered, schedules their people)


def _state_of(key: bytes) -> PersonState | None:
    stored = people.get(key)
    return None if stored is None else decoded_people.decoded(key, stored)


idle_profiles = IdleProfiles(_state_of, people.items, _set_state, PROFILE_MEMORY_MS)
