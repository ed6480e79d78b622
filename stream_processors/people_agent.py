"""The stream worker's per-person agent: enriched events -> funnel progress, email figures and customer profiles
-> ``beacon.funnel_transitions``, ``beacon.email_deliveries`` and ``beacon.customer_profiles``.

It reads ``beacon.events`` (written by ``hits_agent``), keyed by site and person (the user id when known, else
the visitor), so each person's state lives in one partition of the ``people`` table. The step is pure
(``people/track_person.py``); this module is its I/O: definitions, the table, the topic, the metrics.

Delivery is as in ``hits_agent``: a person's new state reaches its changelog only after the transitions it
led to are acknowledged, so after a crash an event either counts as a duplicate (its state change survived,
and so did its records) or writes again exactly what it wrote (same sequence numbers: the table and the
topic's consumers see a repeat).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import structlog
from faust import StreamT, web
from faust.events import Event as FaustEvent
from prometheus_client import Counter, Gauge, Histogram

from runtime.definitions import DefinitionFolder
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.events import Event
from schemas.topics import (
    CUSTOMER_PROFILES,
    DEAD_LETTERS,
    EMAIL_DELIVERIES,
    EVENTS,
    FUNNEL_TRANSITIONS,
    PERSON_STATE_CHANGELOG,
    PERSON_STATE_TABLE,
)
from stream_processors.app import app, settings
from stream_processors.funnels.funnel_steps import CompiledFunnel, compile_funnel
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.profiles.idle_profiles import IdleProfiles
from stream_processors.profiles.track_profile import HOUR_MS, ProfileRules
from stream_processors.record_producer import send_bytes, send_model
from stream_processors.state_changelog import Delivery, OrderedChangelog
from stream_processors.visitors.track_event import milliseconds

TRANSITIONS = Counter("beacon_stream_funnel_transitions_total", "Funnel transitions emitted", ["funnel_id"])
EMAIL_DELIVERY_CHANGES = Counter("beacon_stream_email_delivery_changes_total", "Email delivery rows emitted")
PROFILE_VERSIONS = Counter("beacon_stream_profile_versions_total", "Customer profile versions emitted")
PERSON_ERRORS = Counter("beacon_stream_person_errors_total", "Events the per-person stage failed on")
FUNNELS_DEFINED = Gauge("beacon_stream_funnels_defined", "Funnels the stream worker runs")
DEFINITION_PROBLEMS = Gauge("beacon_stream_definition_problems", "Definition files the worker could not use")
EVENT_SECONDS = Histogram(
    "beacon_stream_person_event_seconds", "Processing time of one event by the per-person stage",
    buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3),
)  # fmt: skip

log = structlog.get_logger("stream")
events_topic = app.topic(EVENTS.name, partitions=EVENTS.partitions)
people = app.Table(PERSON_STATE_TABLE, partitions=EVENTS.partitions, key_type=bytes, value_type=bytes)
definitions = DefinitionFolder(settings.definitions_dir)
EMAIL_RULES = settings.email_rules()
_rules_by_site: dict[str, PersonRules] = {}
_funnel_versions: dict[str, str] = {}
_profile_rules_by_site: dict[str, ProfileRules] = {}
PROFILE_MEMORY_MS = round(settings.stream_person_memory_hours * HOUR_MS)
DEFINITIONS_POLL_SECONDS = 1.0


def _profile_rules(site_id: str) -> ProfileRules:
    """The site's RFM thresholds if it has its own (``config/profiles/<site_id>.yaml``), else the defaults."""
    return _profile_rules_by_site.get(site_id) or ProfileRules(dedup_ms=PROFILE_MEMORY_MS)


def load_definitions() -> None:
    """Re-read the definitions if their files changed; an unusable file is logged and left out."""
    if not definitions.changed():
        return
    read = definitions.read_funnels()
    profile_settings = definitions.read_profile_settings()
    for problem in read.problems + profile_settings.problems:
        log.error("definition_not_used", problem=problem)
    _profile_rules_by_site.clear()
    _profile_rules_by_site.update(
        {site: ProfileRules(own.rfm, PROFILE_MEMORY_MS) for site, own in profile_settings.by_site.items()}
    )
    by_site: dict[str, list[CompiledFunnel]] = {}
    for funnel in read.funnels:
        by_site.setdefault(funnel.site_id, []).append(compile_funnel(funnel))
    _rules_by_site.clear()
    _rules_by_site.update(
        {
            site: PersonRules(tuple(funnels), settings.stream_funnel_max_entries, EMAIL_RULES, _profile_rules(site))
            for site, funnels in by_site.items()
        }
    )
    _funnel_versions.clear()
    _funnel_versions.update({funnel.funnel_id: funnel.version for funnel in read.funnels})
    FUNNELS_DEFINED.set(len(read.funnels))
    DEFINITION_PROBLEMS.set(len(read.problems) + len(profile_settings.problems))
    log.info("definitions_loaded", funnels=sorted(_funnel_versions), problems=len(read.problems))


load_definitions()


@app.timer(interval=DEFINITIONS_POLL_SECONDS)  # type: ignore[untyped-decorator]  # (faust's decorators are untyped)
async def follow_definitions() -> None:
    load_definitions()


@app.page("/definitions")
async def loaded_definitions(view: web.View, request: web.Request) -> web.Response:
    """The funnels this worker runs, by id and version: what ``./beacon funnels list`` compares with; and the
    sites with their own profile settings (RFM thresholds)."""
    profiles = {site: rules.rfm.model_dump(mode="json") for site, rules in _profile_rules_by_site.items()}
    return view.json({"funnels": dict(_funnel_versions), "profiles": profiles})


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
        stored = people.get(key)
        state = decode_person_state(stored) if stored is not None else PersonState()
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
    value = None if changes.state.empty else encode_person_state(changes.state)
    _set_state(message.partition, key, value, deliveries)
    if changes.state.profile is not None:  # (after each event, at most two idle people are swept)
        idle_profiles.clock.touched(message.partition, key, changes.state.profile.last_active_ms)
    idle_profiles.sweep(message.partition, stream_time)


def _set_state(partition: int, key: bytes, value: bytes | None, after: Sequence[Delivery] = ()) -> None:
    """The table in memory now; its changelog once ``after`` is delivered (``state_changelog``)."""
    if value is None:
        people.data.pop(key, None)
    else:
        people.data[key] = value
    changelog.write(partition, key, value, after)


def _rules_for(site_id: str) -> PersonRules:
    rules = _rules_by_site.get(site_id)
    if rules is None:
        rules = PersonRules((), settings.stream_funnel_max_entries, EMAIL_RULES, _profile_rules(site_id))
        _rules_by_site[site_id] = rules
    return rules


async def _send_dead_letter(payload: bytes, error: Exception, now: datetime) -> None:
    """Kept with the event as it was read, so it can be looked at and replayed once the bug is fixed."""
    letter = DeadLetter.of_unreadable_payload(
        Stage.PEOPLE, DropReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}"[:500], payload, now
    )
    await send_model(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter)


changelog = OrderedChangelog(PERSON_STATE_CHANGELOG.name, send_bytes)
idle_profiles = IdleProfiles(people.get, people.items, _set_state, PROFILE_MEMORY_MS)
