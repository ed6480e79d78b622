"""The stream worker's agent: raw hits -> normalize -> enrich -> visitor stage -> topics.

One agent runs every stage on each hit, because a Kafka hop between stages would cost more than the stages
(faust spends ~150 µs per message). The stages themselves are pure (``normalize/``, ``enrich/``,
``visitors/``); this module is the I/O around them: the per-visitor table, the topics, the metrics.

Delivery: the visitor's new state is set in the table in memory at once, but written to its changelog only
after every record of the hit is acknowledged (``state_changelog.py``); faust flushes the producer before it
commits the input offset (at-least-once). After a crash the hits since the last commit are processed again
on the state recovered from the changelog: a hit whose state change was recovered had its records delivered
and is a duplicate that writes nothing; any other writes exactly what it wrote the first time, and the tables
absorb the repeat (events, identities and moves replace by key; session rows already written are skipped by
the warehouse writer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from faust import StreamT
from faust.events import Event as FaustEvent
from prometheus_client import Counter, Histogram

from runtime.site_registry import SiteRegistry, SiteRegistryFollower
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.sessions import SessionRules
from schemas.topics import (
    BOT_VISITORS,
    DEAD_LETTERS,
    EVENT_SESSION_CHANGES,
    EVENTS,
    IDENTITIES,
    RAW_HITS,
    SESSIONS,
    VISITOR_STATE_CHANGELOG,
    VISITOR_STATE_TABLE,
    events_partition,
)
from stream_processors.app import app, settings
from stream_processors.enrich.context import load_enrich_context
from stream_processors.enrich.pipeline import enrich_event
from stream_processors.normalize.pipeline import dead_letter_for, normalize_raw_hit, normalize_steps, read_raw_hit
from stream_processors.normalize.steps import Drop
from stream_processors.record_producer import send_bytes, send_model
from stream_processors.state_changelog import Delivery, OrderedChangelog
from stream_processors.visitors.partition_clock import PartitionClock
from stream_processors.visitors.track_event import TrackedEvent, TrackingRules, milliseconds, track_event
from stream_processors.visitors.visitor_state import (
    decode_visitor_state,
    encode_visitor_state,
    swept,
    visitor_state_header,
)

PROCESSED = Counter("beacon_stream_events_total", "Events written by the stream worker")
DROPPED = Counter("beacon_stream_dead_letters_total", "Raw hits sent to dead letters", ["stage", "reason"])
POLICY_DROPS = Counter("beacon_stream_policy_drops_total", "Events not written again, by reason", ["reason"])
TOO_LATE = Counter("beacon_stream_too_late_events_total", "Events kept but not sessionized: beyond the lateness")
BOTS_FLAGGED = Counter("beacon_stream_bots_flagged_total", "Visitors flagged as bots by their behaviour")
VISITORS_SWEPT = Counter("beacon_stream_visitors_swept_total", "Idle visitors shrunk to their identity")
VISITORS_FORGOTTEN = Counter("beacon_stream_visitors_forgotten_total", "Visitors idle beyond the memory period")
HIT_SECONDS = Histogram(
    "beacon_stream_hit_seconds", "Processing time of one raw hit, all stages", buckets=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
)

log = structlog.get_logger("stream")
raw_hits_topic = app.topic(RAW_HITS.name, partitions=RAW_HITS.partitions)
visitors = app.Table(VISITOR_STATE_TABLE, partitions=RAW_HITS.partitions, key_type=bytes, value_type=bytes)
NORMALIZE_STEPS = normalize_steps(keep_full_ip=settings.stream_keep_full_ip)
ENRICH_CONTEXT = load_enrich_context(settings)
RULES = TrackingRules(
    sessions=settings.session_rules(), bot_max_events=settings.stream_bot_max_events_per_minute, bot_window_ms=60_000
)
# The site registry, for each site's own session rules (`./beacon sites sessions`); a snapshot lets a worker
# started while the broker is down use the rules it last knew.
sites = SiteRegistry()
sites_follower = SiteRegistryFollower(settings.kafka_bootstrap, sites, settings.stream_data_dir / "sites.json")
_rules_by_site: dict[str, tuple[SessionRules, TrackingRules]] = {}
MEMORY_MS = round(settings.stream_visitor_memory_days * 24 * 3600 * 1000)
if settings.stream_keep_full_ip:
    log.warning("client_ips_stored_whole", setting="BEACON_STREAM_KEEP_FULL_IP")


clock = PartitionClock(lambda: ((key, visitor_state_header(value)) for key, value in visitors.items()))


@app.task  # type: ignore[untyped-decorator]  # (faust's task decorator is untyped)
async def follow_sites() -> None:
    await sites_follower.start()


@app.on_before_shutdown.connect
async def stop_following_sites(_: Any, /, *__: Any, signal: Any, **___: Any) -> None:
    await sites_follower.stop()


def rules_for(site_id: str) -> TrackingRules:
    """The site's session rules if it has its own, else the worker's."""
    site = sites.get(site_id)
    if site is None or site.sessions is None:
        return RULES
    cached = _rules_by_site.get(site_id)
    if cached is None or cached[0] != site.sessions:
        cached = _rules_by_site[site_id] = (site.sessions, replace(RULES, sessions=site.sessions))
    return cached[1]


@app.agent(raw_hits_topic, name="process_hits")
async def process_hits(stream: StreamT[bytes]) -> None:
    async for hit_event in stream.events():
        while not sites.loaded:  # noqa: ASYNC110  (the registry has a flag: each site's rules are known first)
            await asyncio.sleep(0.05)
        with HIT_SECONDS.time():
            await _process(hit_event)


async def _process(hit_event: FaustEvent) -> None:
    message = hit_event.message
    payload = cast(bytes, hit_event.value)
    now = datetime.now(UTC)
    hit = read_raw_hit(payload, now)
    if isinstance(hit, DeadLetter):
        await _send_dead_letter(hit)
        return
    normalized = normalize_raw_hit(hit, now, NORMALIZE_STEPS)
    if isinstance(normalized, DeadLetter):
        await _send_dead_letter(normalized)
        return
    stage = Stage.ENRICH
    try:
        enriched = enrich_event(normalized, hit, ENRICH_CONTEXT)
        stage = Stage.SESSIONIZE
        stream_time = clock.advance(message.partition, milliseconds(hit.received_at))
        key = cast(bytes, message.key) or hit.partition_key()
        stored = visitors.get(key)
        state = decode_visitor_state(stored) if stored is not None else None
        state, tracked = track_event(state, enriched, stream_time, message.partition, rules_for(enriched.site_id))
    except Exception as error:  # a bug in a stage must not stop the agent nor lose the hit: keep it for replay
        log.exception("pipeline_error", stage=stage.value, hit_id=str(hit.hit_id))
        drop = Drop(DropReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}"[:500])
        await _send_dead_letter(dead_letter_for(hit, drop, stage, now))
        return
    deliveries = await _send_tracked(key, tracked)
    _set_state(message.partition, key, encode_visitor_state(state), after=deliveries)
    clock.touched(message.partition, key, stream_time)  # (after each hit, at most two idle visitors are swept)
    _sweep_idle_visitors(message.partition, stream_time)


async def _send_tracked(key: bytes, tracked: TrackedEvent) -> list[Delivery]:
    """Hand every record of the hit to the producer; their deliveries, which the new state must wait for."""
    deliveries = []
    if tracked.bot is not None:
        BOTS_FLAGGED.inc()
        deliveries.append(await send_model(BOT_VISITORS.name, key, tracked.bot))
    for session in tracked.sessions:
        deliveries.append(await send_model(SESSIONS.name, key, session))
    if tracked.duplicate:
        POLICY_DROPS.labels("duplicate").inc()
        return deliveries
    PROCESSED.inc()
    if tracked.event.too_late:
        TOO_LATE.inc()
    person_key = tracked.event.partition_key()
    deliveries.append(await send_model(EVENTS.name, person_key, tracked.event, events_partition(person_key)))
    for change in tracked.session_changes:
        deliveries.append(await send_model(EVENT_SESSION_CHANGES.name, key, change))
    for link in tracked.identities:
        deliveries.append(await send_model(IDENTITIES.name, key, link))
    return deliveries


def _set_state(partition: int, key: bytes, value: bytes | None, *, after: Sequence[Delivery] = ()) -> None:
    """The table in memory now; its changelog once ``after`` is delivered (``state_changelog``)."""
    if value is None:
        visitors.data.pop(key, None)
    else:
        visitors.data[key] = value
    changelog.write(partition, key, value, after)


def _sweep_idle_visitors(partition: int, stream_time_ms: int) -> None:
    """Shrink visitors idle for longer than their sessions can change to what must be remembered (identity,
    closed sessions), and forget them entirely after ``stream_visitor_memory_days``."""
    default = RULES.sessions
    for key in clock.idle(partition, stream_time_ms - default.idle_timeout_ms - 2 * default.allowed_lateness_ms, 2):
        stored = visitors.get(key)
        if stored is None:
            clock.forget(partition, key)
            continue
        state = decode_visitor_state(stored)
        rules = rules_for(key.split(b":", 1)[0].decode()).sessions  # (keys are "site_id:visitor")
        if state.last_active_ms >= stream_time_ms - rules.idle_timeout_ms - 2 * rules.allowed_lateness_ms:
            clock.touched(partition, key, state.last_active_ms)  # its site keeps sessions open for longer
            continue
        _set_state(partition, key, encode_visitor_state(swept(state, rules.idle_timeout_ms)))
        clock.swept(partition, key, state.last_active_ms)
        VISITORS_SWEPT.inc()
    for key in clock.expired(partition, stream_time_ms - MEMORY_MS, 2):
        clock.forget(partition, key)
        if visitors.get(key) is not None:
            _set_state(partition, key, None)
            VISITORS_FORGOTTEN.inc()


async def _send_dead_letter(letter: DeadLetter) -> None:
    DROPPED.labels(letter.stage.value, letter.reason.value).inc()
    await send_model(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter)


changelog = OrderedChangelog(VISITOR_STATE_CHANGELOG.name, send_bytes)
