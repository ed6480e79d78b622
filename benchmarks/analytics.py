"""The per-person stage with 10 funnels and 20 segments: events/s on one worker, segment entry latency, timers.

On a throwaway stack (embedded broker and warehouse, the real stream worker process), in one run:
1. in process, without Kafka: µs per event of the stage as the agent runs it (the person's state decoded unless
   kept decoded, ``track_person`` with the funnels, segments, email and profile, the state encoded when it
   changed), over the traffic generator's events;
2. throughput: those events are pre-loaded into ``beacon.events`` (as the visitor stage writes them) while the
   worker is stopped, then the worker is started and timed until its committed offsets on ``beacon.events``
   reach the end. Baseline in the same run: a bare aiokafka consume -> produce loop over the same messages;
3. latency: live events for new people, each entering a segment on arrival, produced at a steady rate; an entry's
   latency is the moment a consumer of the segment's topic receives it minus the moment its event was produced;
4. timers: events starting "did X, no Y within 3 s" for new people; the lateness of an entry is its receipt by
   the consumer minus the moment it was due (the event time + 3 s).

    .venv/bin/python -m benchmarks.analytics --visitors 2000 --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.person_stage import sample_events
from benchmarks.stream import ROOT, Offsets, bare_consume_produce, group_cpu_seconds, part_pid, percentile, seconds_text
from runtime.definitions import DefinitionFolder
from runtime.kafka_topics import ensure_topics
from schemas.events import Event, HitSource
from schemas.funnels import FunnelDefinition
from schemas.journeys import default_journey
from schemas.segments import SegmentChange, SegmentDefinition
from schemas.topics import (
    CUSTOMER_PROFILES,
    EMAIL_DELIVERIES,
    EVENTS,
    FUNNEL_TRANSITIONS,
    PERSON_STATE_CHANGELOG,
    SEGMENT_CHANGES,
    STREAM_APP_ID,
    events_partition,
    segment_topic,
)
from stack.ephemeral import settings_on_free_ports
from stack.supervisor import LocalStack
from stream_processors.decoded_states import DecodedStates
from stream_processors.email.email_deliveries import EmailRules
from stream_processors.funnels.funnel_steps import compile_funnel
from stream_processors.journeys.journey_progress import compile_journey
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.segments.segment_rules import compile_segment
from stream_processors.settings import StreamWorkerSettings

SITE = "shop"
GOAL_EVENTS_PER_SECOND = 5_000
GOAL_ENTRY_P95_SECONDS = 2.0
GOAL_TIMER_SECONDS = 1.0
TIMER_WITHIN_SECONDS = 3


def funnels() -> list[FunnelDefinition]:
    """Ten funnels over what the traffic generator sends."""
    pages = ["/", "/pricing", "/about", "/blog/choosing-shoes", "/support"]
    plans: list[dict[str, Any]] = [
        {"steps": [{"name": "Visit", "event": "page_view"}, {"name": "Product", "event": "product_viewed"},
                   {"name": "Cart", "event": "add_to_cart"}], "window": "1h"},
        {"steps": [{"name": "Product", "event": "product_viewed"}, {"name": "Cart", "event": "add_to_cart"},
                   {"name": "Order", "event": "Order Completed"}], "window": "1d"},
        {"steps": [{"name": "Sent", "event": "email_sent"}, {"name": "Opened", "event": "email_opened"},
                   {"name": "Clicked", "event": "email_clicked"}], "window": "7d"},
        {"steps": [{"name": "Chat", "event": "chat_conversation_started"},
                   {"name": "Asked", "event": "chat_message_sent"},
                   {"name": "Ended", "event": "chat_conversation_ended"}], "window": "30m", "order": "strict"},
    ]  # fmt: skip
    for page in [*pages, "/products/sku-1"]:
        plans.append({"steps": [{"name": "Landing", "event": "page_view", "where": {"url": {"contains": page}}},
                                {"name": "Product", "event": "product_viewed"},
                                {"name": "Cart", "event": "add_to_cart"}], "window": "2h"})  # fmt: skip
    return [
        FunnelDefinition.model_validate({"funnel_id": f"bench-funnel-{number}", "site_id": SITE, **plan})
        for number, plan in enumerate(plans[:10])
    ]


def segments() -> list[SegmentDefinition]:
    """Twenty segments of every kind of rule (two of them for the latency and timer measurements)."""
    plans: list[list[dict[str, Any]]] = [
        [{"count": {"event": "page_view"}, "at_least": 1, "in_last": "1d"}],  # entered on arrival: latency
        [{"did": {"event": "timer_start"}, "then_not": {"event": "timer_stop"}, "within": f"{TIMER_WITHIN_SECONDS}s"}],
    ]  # fmt: skip
    for threshold in (2, 3, 5):
        plans.append([{"count": {"event": "product_viewed"}, "at_least": threshold, "in_last": "1d"}])
        plans.append([{"count": {"event": "page_view", "where": {"url": {"contains": "/products/"}}},
                       "at_least": threshold, "in_last": "7d"}])  # fmt: skip
    for within in ("10m", "1h", "1d"):
        plans.append([{"did": {"event": "add_to_cart"}, "then_not": {"event": "Order Completed"}, "within": within}])
        plans.append([{"did": {"event": "email_opened"}, "then_not": {"event": "email_clicked"}, "within": within,
                       "in_last": "7d"}])  # fmt: skip
    plans += [
        [{"not_seen_for": "2h"}],
        [{"seen_within": "30m"}, {"attribute": "device_type", "is": "mobile"}],
        [{"attribute": "country", "is": ["DE", "AT", "CH"]}, {"count": {"event": "Order Completed"}}],
        [{"count": {"event": "chat_conversation_started"}, "at_least": 1}, {"seen_within": "1d"}],
    ]
    return [
        SegmentDefinition.model_validate({"segment_id": f"bench-segment-{number}", "site_id": SITE, "rules": rules})
        for number, rules in enumerate(plans[:20])
    ]


def stage_cost(events: Sequence[Event], rounds: int) -> tuple[float, int, int]:
    """Best µs per event of the stage over ``rounds`` passes, and the funnel transitions and segment changes."""
    rules = PersonRules(
        funnels=tuple(compile_funnel(funnel) for funnel in funnels()), email=EmailRules(),
        segments=tuple(compile_segment(segment) for segment in segments()),
        journey=compile_journey(default_journey(SITE)),
    )  # fmt: skip
    best = float("inf")
    transitions = changes = 0
    for _ in range(rounds):
        states: dict[bytes, bytes] = {}
        decoded = DecodedStates(decode_person_state, StreamWorkerSettings().stream_decoded_people)  # as the agent
        transitions = changes = 0
        started = time.perf_counter()
        for event in events:
            key = event.partition_key()
            stored = states.get(key)
            state = decoded.decoded(key, stored) if stored is not None else PersonState()
            result = track_person(state, event, rules, event.received_at)
            if result.changed:
                states[key] = encode_person_state(result.state)
                decoded.remember(key, states[key], result.state)
            transitions += len(result.funnel_transitions)
            changes += len(result.segment_changes)
        best = min(best, (time.perf_counter() - started) / len(events) * 1e6)
    return best, transitions, changes


async def preload(bootstrap: str, events: Sequence[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, compression_type="lz4")
    await producer.start()
    try:
        for event in events:
            key = event.partition_key()
            await producer.send(EVENTS.name, event.model_dump_json().encode(), key=key, partition=events_partition(key))
        await producer.flush()
    finally:
        await producer.stop()


@dataclass(frozen=True)
class WorkerRun:
    events_per_second: float
    cpu_us_per_event: float  # the worker's CPU (user + system), less sensitive than time to a shared machine
    records_per_event: dict[str, float]  # by topic the per-person agent writes, over the pre-loaded events


OUTPUT_TOPICS = (FUNNEL_TRANSITIONS, CUSTOMER_PROFILES, EMAIL_DELIVERIES, SEGMENT_CHANGES, PERSON_STATE_CHANGELOG)


async def time_worker(bootstrap: str, count: int, stack: LocalStack, profile: str | None) -> WorkerRun:
    """Events/s and CPU per event of the per-person agent, from its first commit to the end of the pre-loaded
    events (its start-up excluded)."""
    async with Offsets(bootstrap) as offsets:
        before = {topic.name: await offsets.end(topic) for topic in OUTPUT_TOPICS}
        await asyncio.to_thread(stack.start_part, "stream")
        worker = part_pid(stack, "stream")
        profiler = None
        if profile:  # idle samples too: where the worker waits matters as much as where it computes
            command = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "--idle",
                       "--format", "raw", "--rate", "200", "--output", profile, "--pid", str(worker)]  # fmt: skip
            profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 (started, not awaited)
        try:
            first = 0.0
            deadline = time.perf_counter() + max(300, count / 200)
            while time.perf_counter() < deadline:
                committed = await offsets.committed(STREAM_APP_ID, EVENTS)
                now = time.perf_counter()
                if committed and not first:
                    first, first_committed, first_cpu = now, committed, group_cpu_seconds(worker)
                if committed >= count:
                    done = committed - first_committed
                    cpu = group_cpu_seconds(worker) - first_cpu
                    await asyncio.sleep(1)  # (the records of the last events, and the changelog after them)
                    written = {topic.name: await offsets.end(topic) - before[topic.name] for topic in OUTPUT_TOPICS}
                    per_event = {name: records / count for name, records in written.items()}
                    return WorkerRun(done / (now - first), cpu / done * 1e6, per_event)
                await asyncio.sleep(0.05)
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
    raise RuntimeError("the stream worker did not get through the pre-loaded events")


@dataclass
class Live:
    latencies: list[float]  # entry received - event produced, seconds
    timer_lateness: list[float]  # entry received - due, seconds
    sent: int


def _live_event(name: str, person: str, now: datetime) -> Event:
    return Event(
        event_id=uuid.uuid4(), site_id=SITE, event_name=name, event_time=now, received_at=now, anonymous_id=person,
        user_id="", url="https://shop.example/", referrer="", user_agent="", ip="", properties={},
        source=HitSource.BROWSER, visitor_id=person,
    )  # fmt: skip


async def live(bootstrap: str, rate: float, seconds: float, wait: float) -> Live:
    entry, timer = segments()[0], segments()[1]
    produced: dict[str, float] = {}  # person -> when produced (entry latency) or due (timer)
    received: dict[str, float] = {}
    consumer = AIOKafkaConsumer(entry.topic, timer.topic, bootstrap_servers=bootstrap, auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(2)  # (the consumer's assignment, before anything is sent)

    async def receive() -> None:
        async for record in consumer:
            change = SegmentChange.model_validate_json(record.value or b"")
            received.setdefault(change.person_id, time.time())

    receiving = asyncio.create_task(receive())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    try:
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            if sent >= elapsed * rate:
                await asyncio.sleep(0.002)
                continue
            timed = sent % 2 == 1
            person = f"{'timer' if timed else 'live'}-{uuid.uuid4().hex[:12]}"
            now = datetime.now(UTC)
            event = _live_event("timer_start" if timed else "page_view", person, now)
            key = event.partition_key()
            await producer.send_and_wait(EVENTS.name, event.model_dump_json().encode(), key=key,
                                         partition=events_partition(key))  # fmt: skip
            produced[person] = (now + timedelta(seconds=TIMER_WITHIN_SECONDS)).timestamp() if timed else time.time()
            sent += 1
        deadline = time.monotonic() + wait
        while len(received) < len(produced) and time.monotonic() < deadline:  # noqa: ASYNC110  (a deadline too)
            await asyncio.sleep(0.2)
    finally:
        receiving.cancel()
        await producer.stop()
        await consumer.stop()
    latencies = [received[p] - produced[p] for p in produced if p.startswith("live") and p in received]
    lateness = [received[p] - produced[p] for p in produced if p.startswith("timer") and p in received]
    return Live(sorted(latencies), sorted(lateness), len(produced))


async def measure(
    stack: LocalStack, events: Sequence[Event], arguments: argparse.Namespace
) -> tuple[float, WorkerRun, Live]:
    bootstrap = stack.settings.kafka_address
    await ensure_topics(bootstrap, [segment_topic(segment.topic) for segment in segments()])
    await preload(bootstrap, events)
    baseline = await bare_consume_produce(bootstrap, len(events), EVENTS)
    print(f"bare aiokafka consume -> produce over beacon.events: {baseline:,.0f} msg/s", flush=True)
    run = await time_worker(bootstrap, len(events), stack, arguments.profile)
    print(f"stream worker, per-person agent: {run.events_per_second:,.0f} events/s, "
          f"{run.cpu_us_per_event:.0f} µs of CPU per event", flush=True)  # fmt: skip
    return baseline, run, await live(bootstrap, arguments.rate, arguments.seconds, arguments.wait)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=2000, help="visitors of the generated traffic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="in-process passes; the fastest counts")
    parser.add_argument("--rate", type=float, default=200, help="live events/s for the latency measurement")
    parser.add_argument("--seconds", type=float, default=20, help="how long to send live events")
    parser.add_argument("--wait", type=float, default=15, help="seconds to wait for the last entries")
    parser.add_argument(
        "--profile", metavar="PATH", help="py-spy the worker (idle included) during the throughput run, to PATH"
    )
    arguments = parser.parse_args()

    events = sample_events(arguments.visitors, arguments.seed)
    cost, transitions, changes = stage_cost(events, arguments.rounds)
    print(f"{len(events):,} events of {arguments.visitors:,} visitors; in process with 10 funnels and 20 segments: "
          f"{cost:.1f} µs/event ({1e6 / cost:,.0f} events/s), {transitions:,} funnel transitions, "
          f"{changes:,} segment changes", flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as home:
        settings = settings_on_free_ports(Path(home))
        folder = DefinitionFolder(settings.definitions_dir)
        for funnel in funnels():
            folder.write_funnel(funnel)
        for segment in segments():
            folder.write_segment(segment)
        stack = LocalStack(settings, workdir=ROOT)
        stack.start(include_applications=False)
        try:
            baseline, run, measured = asyncio.run(measure(stack, events, arguments))
        finally:
            stack.stop()

    print("\n| figure | value |\n|---|---|")
    print(f"| in process: the stage with 10 funnels, 20 segments, email, profile, journey | {cost:.1f} µs/event "
          f"({1e6 / cost:,.0f} events/s) |")  # fmt: skip
    print(f"| bare aiokafka consume -> produce over the same messages (baseline) | {baseline:,.0f} msg/s |")
    rate = run.events_per_second
    print(f"| stream worker, per-person agent, one worker | {rate:,.0f} events/s "
          f"({rate / baseline:.2f} of the baseline; goal {GOAL_EVENTS_PER_SECOND:,}) |")  # fmt: skip
    print(f"| worker CPU per event (user + system, from its first commit) | {run.cpu_us_per_event:.0f} µs |")
    written = ", ".join(f"{name} {share:.2f}" for name, share in run.records_per_event.items())
    print(f"| records written per event | {sum(run.records_per_event.values()):.2f}: {written} |")
    live_sent, timers_sent = (measured.sent + 1) // 2, measured.sent // 2  # (every other event starts a timer)
    for label, values, goal, sent in (
        ("segment entry after its event: p50 / p95 / max", measured.latencies, GOAL_ENTRY_P95_SECONDS, live_sent),
        ("time-driven entry after it was due: p50 / p95 / max", measured.timer_lateness, GOAL_TIMER_SECONDS,
         timers_sent),
    ):  # fmt: skip
        if values:
            print(f"| {label} | {seconds_text(statistics.median(values))} / "
                  f"{seconds_text(percentile(values, 0.95))} / {seconds_text(values[-1])} "
                  f"(goal {goal:g} s; {len(values):,} of {sent:,} received) |")  # fmt: skip
        else:
            print(f"| {label} | none received |")


if __name__ == "__main__":
    main()
