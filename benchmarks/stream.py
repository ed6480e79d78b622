"""The stream worker: throughput on one worker, hit -> queryable latency, memory and state per visitor.

On a throwaway stack (embedded broker and warehouse, the real processes), in one run:
1. in process, without Kafka: the cost per hit of the stages the agent runs (decode the raw hit, normalize,
   enrich, the visitor stage with its state codec, serializing the records), over the hits of step 2;
2. throughput: N raw hits, built from the demo traffic (``stack.traffic_plan``) as the collector builds them,
   are produced into ``beacon.raw_hits`` while the stream worker is stopped; the worker is started and timed
   until it has written every event. The baseline, over the same messages in the same run, is a bare aiokafka
   consume -> produce loop (acks=all, lz4, as the worker's producer);
3. the worker's resident memory (its process group) idle and after step 2, and the visitor state: bytes per
   visitor and per retained session, latest value per key in the changelog and computed in process;
4. latency: events sent through the collector's browser API at a steady rate, each with its own id; the
   latency of an event is its row's ``inserted_at`` in ClickHouse (the insert that made it queryable) minus
   the moment its request was sent.

    .venv/bin/python -m benchmarks.stream --events 30000 --rate 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from runtime.clickhouse import connect_clickhouse
from runtime.kafka_topics import ensure_topics
from schemas.dead_letters import DeadLetter
from schemas.email import EmailInteraction
from schemas.events import HitSource, RawHit
from schemas.topics import EVENTS, RAW_HITS, STREAM_APP_ID, VISITOR_STATE_CHANGELOG, TopicSpec, raw_hits_partition
from schemas.traffic import Delivery, PlannedEvent, TrafficSettings
from stack.ephemeral import settings_on_free_ports
from stack.site_admin import create_site
from stack.supervisor import LocalStack
from stack.traffic_plan import BROWSERS, PAGES, SHOP, plan_traffic

# The request bodies exactly as `./beacon demo traffic` sends them (private helpers of that module).
from stack.traffic_send import _browser_event, _segment_track
from stream_processors.enrich.context import load_enrich_context
from stream_processors.enrich.pipeline import enrich_event
from stream_processors.normalize.pipeline import normalize_payload, normalize_raw_hit, normalize_steps, read_raw_hit
from stream_processors.settings import StreamWorkerSettings, WarehouseWriterSettings
from stream_processors.visitors.track_event import TrackingRules, milliseconds, track_event
from stream_processors.visitors.visitor_state import VisitorState, decode_visitor_state, encode_visitor_state

ROOT = Path(__file__).resolve().parent.parent
SITE_ID = "bench"
EVENTS_PER_VISITOR = 14.5  # what the demo traffic plans per visitor, duplicates and email included
BACK_END_IP = "203.0.113.7"  # the address a server-side (Segment) sender posts from
SCRATCH = TopicSpec("bench.stream_baseline", partitions=8, retention_ms=3_600_000, description="benchmark")
WRITER_GROUP = "beacon-warehouse-writer"
WRITER_FLUSH_SECONDS = WarehouseWriterSettings().writer_flush_interval_seconds
GOAL_EVENTS_PER_SECOND = 10_000
GOAL_P95_SECONDS = 2.0


# --- the hits --------------------------------------------------------------------------------------------


def planned_traffic(events: int, visitors: int | None, seed: int) -> list[PlannedEvent]:
    """At least ``events`` planned events (or all of ``visitors``' events), sent within the last three hours;
    sessions start within one hour, so no visitor is idle long enough to be swept during the run."""
    start = datetime.now(UTC) - timedelta(hours=3)
    count = visitors or max(int(events / EVENTS_PER_VISITOR * 1.1), 1)
    while True:
        planned = plan_traffic(SITE_ID, TrafficSettings(seed=seed, visitors=count, start=start, hours=1))
        if visitors is not None or len(planned) >= events:
            return planned[:events]
        count = int(count * 1.2) + 1


def raw_hit_of(event: PlannedEvent) -> RawHit:
    """The raw hit the collector forwards for a planned event, received when the event was sent."""
    received = event.send_at
    common: dict[str, Any] = {"hit_id": uuid.uuid4(), "received_at": received, "site_id": event.site_id}
    if event.delivery is Delivery.BROWSER:
        message = _browser_event(event)
        return RawHit(
            **common, source=HitSource.BROWSER, visitor_key=event.visitor_id or event.user_id,
            body=orjson.dumps(message).decode(), sent_at=_to_milliseconds(received), ip=event.ip,
            user_agent=event.user_agent, referer=event.url, accept_language="en-GB,en;q=0.9",
        )  # fmt: skip
    if event.delivery is Delivery.SERVER:
        message = _segment_track(event)
        return RawHit(
            **common, source=HitSource.SEGMENT, visitor_key=event.visitor_id or event.user_id,
            body=orjson.dumps(message).decode(), sent_at=received, ip=BACK_END_IP,
            user_agent="analytics-python/2.3.4", referer="",
        )  # fmt: skip
    interaction = EmailInteraction(
        kind="open" if event.delivery is Delivery.EMAIL_OPEN else "click",
        site_id=event.site_id,
        campaign_id=str(event.properties["campaign_id"]),
        message_id=str(event.properties["message_id"]),
        recipient_id=str(event.properties["recipient_id"]),
        url=event.url if event.delivery is Delivery.EMAIL_CLICK else None,
    )
    return RawHit(
        **common, source=HitSource.EMAIL, visitor_key=interaction.recipient_id, body=interaction.model_dump_json(),
        ip=event.ip, user_agent=event.user_agent, referer="",
    )  # fmt: skip


def _to_milliseconds(moment: datetime) -> datetime:
    """The browser API's ``sent_at`` is in milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --- 1. in process ----------------------------------------------------------------------------------------


@dataclass
class InProcess:
    microseconds: dict[str, float]  # per hit, by stage
    events: int  # events written (not duplicates)
    dead_letters: int
    produced: dict[str, float]  # Kafka records written per hit, by topic
    states: list[VisitorState]
    state_bytes: list[int]


STAGES = ("decode RawHit", "normalize", "enrich", "state decode", "track_event", "state encode", "records to JSON")


def run_in_process(records: Sequence[tuple[bytes, bytes]], worker: StreamWorkerSettings) -> InProcess:
    """What the agent does per hit (``stream_processors.hits_agent._process``), minus Kafka and faust."""
    context = load_enrich_context(worker)
    steps = normalize_steps(keep_full_ip=worker.stream_keep_full_ip)
    rules = TrackingRules(sessions=worker.session_rules(), bot_max_events=worker.stream_bot_max_events_per_minute)
    table: dict[bytes, bytes] = {}
    spent = [0.0] * len(STAGES)
    produced = dict.fromkeys(("events", "sessions", "changelog", "other"), 0)
    events = dead = 0
    stream_time = 0
    now = datetime.now(UTC)
    clock = time.perf_counter
    for key, payload in records:
        moments = [clock()]
        hit = read_raw_hit(payload, now)
        moments.append(clock())
        assert not isinstance(hit, DeadLetter), hit
        normalized = normalize_raw_hit(hit, now, steps)
        moments.append(clock())
        if isinstance(normalized, DeadLetter):
            dead += 1
            spent[0] += moments[1] - moments[0]
            spent[1] += moments[2] - moments[1]
            continue
        enriched = enrich_event(normalized, hit, context)
        moments.append(clock())
        stream_time = max(stream_time, milliseconds(hit.received_at))
        stored = table.get(key)
        state = decode_visitor_state(stored) if stored is not None else None
        moments.append(clock())
        state, tracked = track_event(state, enriched, stream_time, 0, rules)
        moments.append(clock())
        table[key] = encode_visitor_state(state)
        moments.append(clock())
        records_out = [*tracked.sessions, *((tracked.bot,) if tracked.bot else ())]
        if not tracked.duplicate:
            records_out += [tracked.event, *tracked.session_changes, *tracked.identities]
        for record in records_out:
            record.model_dump_json().encode()
        moments.append(clock())
        for stage in range(len(STAGES)):
            spent[stage] += moments[stage + 1] - moments[stage]
        events += not tracked.duplicate
        produced["events"] += not tracked.duplicate
        produced["sessions"] += len(tracked.sessions)
        produced["changelog"] += 1
        produced["other"] += len(records_out) - len(tracked.sessions) - (not tracked.duplicate)
    values = list(table.values())
    return InProcess(
        microseconds={stage: seconds / len(records) * 1e6 for stage, seconds in zip(STAGES, spent, strict=True)},
        events=events,
        dead_letters=dead,
        produced={topic: count / len(records) for topic, count in produced.items()},
        states=[decode_visitor_state(value) for value in values],
        state_bytes=[len(value) for value in values],
    )


def retained_sessions(states: Sequence[VisitorState]) -> int:
    return sum(len(state.sessions.sessions) for state in states if state.sessions is not None)


# --- 2. Kafka ---------------------------------------------------------------------------------------------


async def preload(bootstrap: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Produce the raw hits as the collector does (idempotent, acks=all, lz4, each on the partition
    ``raw_hits_partition`` names); returns messages/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2, compression_type="lz4"
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for key, value in records:
            await producer.send(RAW_HITS.name, value, key=key, partition=raw_hits_partition(key))
        await producer.flush()
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def bare_consume_produce(bootstrap: str, count: int, topic: TopicSpec = RAW_HITS) -> float:
    """The baseline: a fresh group reads ``topic`` (the raw hits) and produces each value to a scratch topic,
    committing after each fetched batch; messages/s from the first message read to the last one acknowledged."""
    await ensure_topics(bootstrap, [SCRATCH])
    consumer = AIOKafkaConsumer(
        topic.name, bootstrap_servers=bootstrap, group_id=f"bench-baseline-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="lz4")
    await producer.start()
    await consumer.start()
    try:
        seen = 0
        started = 0.0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000)
            if not started and batches:
                started = time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    await producer.send(SCRATCH.name, message.value, key=message.key)
                seen += len(messages)
            await consumer.commit()
        await producer.flush()
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


class Offsets:
    """End offsets of a topic and a group's committed offsets on it, for polling progress."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> Offsets:
        await self._consumer.start()
        await self._admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def end(self, topic: TopicSpec) -> int:
        return sum((await self.ends(topic)).values())

    async def ends(self, topic: TopicSpec) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(_partitions(topic))
        return ends

    async def committed(self, group: str, topic: TopicSpec) -> int:
        offsets = await self._admin.list_consumer_group_offsets(group, partitions=_partitions(topic))
        return sum(max(offset.offset, 0) for offset in offsets.values())


def _partitions(topic: TopicSpec) -> list[TopicPartition]:
    return [TopicPartition(topic.name, number) for number in range(topic.partitions)]


@dataclass(frozen=True)
class StreamRun:
    startup_seconds: float  # from the worker's launch to its first event out
    seconds: float  # from its first event out to its last
    hits: int
    events: int
    committed_seconds: float  # from the first event out until its committed offsets reached the end
    cpu_seconds: dict[str, float]  # CPU time of the stream worker and the broker from its first event to its last


async def time_stream_worker(
    bootstrap: str, hits: int, events: int, start_worker: Callable[[], None], cpu: Callable[[], dict[str, float]]
) -> StreamRun:
    async with Offsets(bootstrap) as offsets:
        events_before = await offsets.end(EVENTS)
        launched = time.perf_counter()
        await asyncio.to_thread(start_worker)
        first = last = committed_at = 0.0
        written = 0
        deadline = time.perf_counter() + max(180, hits / 300)
        while time.perf_counter() < deadline:
            written = await offsets.end(EVENTS) - events_before
            now = time.perf_counter()
            if written and not first:
                first, cpu_at_first = now, cpu()
            if written >= events and not last:
                last, cpu_at_last = now, cpu()
            if not committed_at and await offsets.committed(STREAM_APP_ID, RAW_HITS) >= hits:
                committed_at = time.perf_counter()
            if last and committed_at:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"the stream worker wrote {written} of {events} events before the deadline")
        spent = {part: cpu_at_last[part] - cpu_at_first[part] for part in cpu_at_last}
        return StreamRun(first - launched, last - first, hits, events, committed_at - first, spent)


async def changelog_values(bootstrap: str) -> list[int]:
    """Sizes of the latest value per key in the visitor table's changelog."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = _partitions(VISITOR_STATE_CHANGELOG)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        latest: dict[bytes, int] = {}
        while [partition for partition, end in ends.items() if await consumer.position(partition) < end]:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=50_000)).values():
                for message in messages:
                    if message.value is None:
                        latest.pop(message.key, None)
                    else:
                        latest[message.key] = len(message.value)
        return list(latest.values())
    finally:
        await consumer.stop()


async def events_written_at(bootstrap: str, start: dict[TopicPartition, int]) -> dict[str, float]:
    """When the stream worker produced each latency-run event to ``beacon.events`` (its record's timestamp)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        ends = await consumer.end_offsets(list(start))
        written: dict[str, float] = {}
        while [partition for partition, end in ends.items() if await consumer.position(partition) < end]:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=50_000)).values():
                for message in messages:
                    event = orjson.loads(message.value or b"{}")
                    if str(event.get("anonymous_id", "")).startswith("lat-"):
                        written[event["event_id"]] = message.timestamp / 1000
        return written
    finally:
        await consumer.stop()


async def writer_caught_up(bootstrap: str, timeout_seconds: float) -> float:
    """Wait until the warehouse writer has committed everything in ``beacon.events``; returns the seconds."""
    started = time.perf_counter()
    async with Offsets(bootstrap) as offsets:
        while await offsets.committed(WRITER_GROUP, EVENTS) < await offsets.end(EVENTS):
            if time.perf_counter() - started > timeout_seconds:
                raise RuntimeError("the warehouse writer did not catch up")
            await asyncio.sleep(0.2)
    return time.perf_counter() - started


# --- 3. memory --------------------------------------------------------------------------------------------


def group_resident_mib(group_id: int) -> float:
    """The resident memory of every process in a process group (a part of the stack runs in its own)."""
    resident_kib = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) != group_id:
                continue
            status = (stat.parent / "status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        resident_kib += int(found.group(1)) if found else 0
    return resident_kib / 1024


def group_cpu_seconds(group_id: int) -> float:
    """User and system CPU time of the live processes in a process group."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == group_id:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def part_pid(stack: LocalStack, name: str) -> int:
    return next(record.pid for record in stack.running_parts() if record.name == name)


# --- 4. latency -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    sent_at: dict[str, float]  # event id -> wall-clock time its request was due (open loop: the schedule)
    seconds: float  # the schedule's length
    refused: int  # events in requests not answered 200
    answered: list[float]  # per request: seconds from its due time to its answer
    late: list[float]  # per request: seconds the load generator started it after its due time


async def send_steadily(collector_url: str, rate: float, seconds: float, batch: int, visitors: int) -> Sent:
    """Page views and pings through ``POST /api/events`` at ``rate`` events/s, ``batch`` events of one visitor
    per request (each visitor sends a request every ``visitors * batch / rate`` seconds). Open loop, as a
    population of browsers: a request is sent when due, whether earlier ones were answered or not."""
    sent_at: dict[str, float] = {}
    answered: list[float] = []
    late: list[float] = []
    refused = 0
    requests = int(rate * seconds / batch)
    interval = batch / rate
    wall_start = time.time() + 0.1

    async def post(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal refused
        visitor = number % visitors
        due = wall_start + number * interval
        late.append(time.time() - due)
        events = [
            {"event_id": str(uuid.uuid4()), "name": "page_view" if index == 0 else "page_ping",
             "url": f"{SHOP}{PAGES[(number + index) % len(PAGES)]}", "anonymous_id": f"lat-{visitor}",
             "timestamp": int(due * 1000), "properties": {"n": index}}
            for index in range(batch)
        ]  # fmt: skip
        for event in events:
            sent_at[str(event["event_id"])] = due
        body = {"site": SITE_ID, "sent_at": int(due * 1000), "events": events}
        headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP,
                   "User-Agent": BROWSERS[visitor % len(BROWSERS)],
                   "X-Forwarded-For": f"81.2.{visitor // 250 % 256}.{visitor % 250 + 1}"}  # fmt: skip
        try:
            async with session.post("/api/events", data=orjson.dumps(body), headers=headers) as response:
                await response.read()
                if response.status != 200:
                    refused += batch
        except aiohttp.ClientError:
            refused += batch
        answered.append(time.time() - due)

    # aiohttp rather than httpx: with httpx's AsyncClient, this generator's requests took seconds to be answered
    # at 200 requests/s (its own queueing); with aiohttp, the same collector answered in ~20 ms.
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(collector_url, connector=connector, timeout=timeout) as session:
        tasks = []
        for number in range(requests):
            delay = wall_start + number * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(session, number)))
        await asyncio.gather(*tasks)
    return Sent(sent_at, requests * interval, refused, answered, late)


@dataclass(frozen=True)
class Latencies:
    total: list[float]  # seconds from due to queryable, in send order; inf: not stored within the wait
    to_collector: list[float]  # due -> received_at (the load generator, HTTP and the collector), stored events
    stored: int
    expected: int
    to_stream: list[float] = field(default_factory=list)  # due -> the worker produced it to beacon.events


def latencies_of(clickhouse_url: str, sent: Sent, wait_seconds: float) -> Latencies:
    """Wait up to ``wait_seconds`` for every accepted event to be stored, then read when each was inserted."""
    clickhouse = connect_clickhouse(clickhouse_url)
    expected = len(sent.sent_at) - sent.refused
    count = "SELECT uniqExact(event_id) FROM beacon.events WHERE site_id = {s:String} AND anonymous_id LIKE 'lat-%'"
    deadline = time.monotonic() + wait_seconds
    while clickhouse.query(count, parameters={"s": SITE_ID}).result_rows[0][0] < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = clickhouse.query(
        "SELECT toString(event_id), toUnixTimestamp64Milli(min(inserted_at)), toUnixTimestamp64Milli(min(received_at))"
        " FROM beacon.events WHERE site_id = {s:String} AND anonymous_id LIKE 'lat-%' GROUP BY event_id",
        parameters={"s": SITE_ID},
    ).result_rows
    stored = {event_id: (inserted / 1000, received / 1000) for event_id, inserted, received in rows}
    timed = sorted((due, *stored.get(event_id, (math.inf, math.inf))) for event_id, due in sent.sent_at.items())
    return Latencies(
        total=[inserted - due for due, inserted, _ in timed],
        to_collector=[received - due for due, _, received in timed if not math.isinf(received)],
        stored=len(stored.keys() & sent.sent_at.keys()),
        expected=expected,
    )


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else math.nan


def seconds_text(value: float) -> str:
    return "not stored" if math.isinf(value) else f"{value:.2f} s"


# --- the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="raw hits pre-loaded for the throughput run")
    parser.add_argument(
        "--visitors", type=int, default=None, help="visitors of the pre-loaded traffic (default: as many as N needs)"
    )
    parser.add_argument("--rate", type=float, default=2000, help="events/s sent through the collector for latency")
    parser.add_argument("--seconds", type=float, default=30, help="how long to send at --rate (0: skip)")
    parser.add_argument(
        "--wait", type=float, default=30, help="seconds to wait for the sent events after the last send"
    )
    parser.add_argument("--batch", type=int, default=10, help="events per browser API request in the latency run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="in-process passes over the hits; the fastest counts")
    parser.add_argument(
        "--replays", type=int, default=0, help="after the throughput run, send the same hits this many times "
        "more (duplicates: no new visitor nor event) and print the worker's RSS after each",
    )  # fmt: skip
    parser.add_argument(
        "--worker-env", action="append", default=[], metavar="NAME=VALUE",
        help="an environment variable for the stream worker of the throughput run (faust reads its settings "
        "from the environment, e.g. PRODUCER_LINGER=0.005); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--profile", metavar="PATH", help="py-spy the worker during the throughput run, collapsed stacks to PATH"
    )
    arguments = parser.parse_args()

    planned = planned_traffic(arguments.events, arguments.visitors, arguments.seed)
    hits = [raw_hit_of(event) for event in planned]
    records = [(hit.partition_key(), hit.to_json()) for hit in hits]
    unusable = [outcome for _, value in records[:1000] if isinstance(outcome := normalize_payload(value), DeadLetter)]
    if unusable:
        sys.exit(f"the benchmark's hits do not normalize: {unusable[0].reason} {unusable[0].detail}")
    visitors = len({key for key, _ in records})
    print(f"{len(records):,} raw hits of {visitors:,} visitors (demo traffic, seed {arguments.seed}): "
          f"{sum(len(value) for _, value in records) / len(records):.0f} B per message on average")  # fmt: skip

    worker = StreamWorkerSettings(stream_visitor_salt_secret=SecretStr("benchmark salt secret, not a real one"))
    rounds = [run_in_process(records, worker) for _ in range(arguments.rounds)]
    for in_process in rounds:
        print(f"in process: {sum(in_process.microseconds.values()):.1f} µs/hit (" + ", ".join(
              f"{stage} {us:.1f}" for stage, us in in_process.microseconds.items()) + f"); {in_process.events:,} "
              f"events, {in_process.dead_letters} dead letters", flush=True)  # fmt: skip
    in_process = min(rounds, key=lambda result: sum(result.microseconds.values()))  # the least disturbed

    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as home:
        stack = LocalStack(settings_on_free_ports(Path(home)), workdir=ROOT)
        stack.start(include_applications=False)
        try:
            results = asyncio.run(measure(stack, records, in_process.events, arguments))
        finally:
            stack.stop()
    report(arguments, in_process, visitors, *results)


async def measure(
    stack: LocalStack, records: Sequence[tuple[bytes, bytes]], events: int, arguments: argparse.Namespace
) -> tuple[float, float, StreamRun, float, float, list[int], Latencies | None, Sent | None]:
    settings = stack.settings
    bootstrap = settings.kafka_address
    # The worker idle (no hit yet), then stopped: its group exists and will read from the beginning.
    await asyncio.to_thread(stack.start_part, "stream")
    await asyncio.sleep(2)
    idle_mib = group_resident_mib(part_pid(stack, "stream"))
    await asyncio.to_thread(stack.stop_part, "stream")

    produce_rate = await preload(bootstrap, records)
    print(f"pre-loaded at {produce_rate:,.0f} msg/s", flush=True)
    baseline = await bare_consume_produce(bootstrap, len(records))
    print(f"bare aiokafka consume -> produce: {baseline:,.0f} msg/s", flush=True)
    profilers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> None:
        # Faust reads its settings from the environment too (e.g. PRODUCER_LINGER=0.005): what-if runs.
        changed = dict(setting.split("=", 1) for setting in arguments.worker_env)
        saved = {name: os.environ.get(name) for name in changed}
        os.environ.update(changed)
        try:
            stack.start_part("stream")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if arguments.profile:  # sampled from its first /health answer: start-up excluded
            pid = str(part_pid(stack, "stream"))
            command = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "--format", "raw",
                       "--rate", "200", "--output", arguments.profile, "--pid", pid]  # fmt: skip
            profilers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))

    def cpu() -> dict[str, float]:
        parts = {record.name: record.pid for record in stack.running_parts()}
        return {part: group_cpu_seconds(parts[part]) for part in ("stream", "kafka") if part in parts}

    run = await time_stream_worker(bootstrap, len(records), events, start_worker, cpu)
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=30)
    print(f"stream worker: {run.hits / run.seconds:,.0f} hits/s", flush=True)
    loaded_mib = group_resident_mib(part_pid(stack, "stream"))
    changelog = await changelog_values(bootstrap)
    for replay in range(1, arguments.replays + 1):  # the same hits again: all duplicates, no new visitor
        await preload(bootstrap, records)
        deadline = time.monotonic() + max(180, len(records) / 100)
        async with Offsets(bootstrap) as offsets:
            while await offsets.committed(STREAM_APP_ID, RAW_HITS) < (replay + 1) * len(records):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the stream worker did not get through replay {replay}")
                await asyncio.sleep(0.5)
        await asyncio.sleep(3)
        print(f"worker RSS after replay {replay} of the same {len(records):,} hits (duplicates): "
              f"{group_resident_mib(part_pid(stack, 'stream')):.0f} MiB", flush=True)  # fmt: skip

    if arguments.seconds <= 0:
        return produce_rate, baseline, run, idle_mib, loaded_mib, changelog, None, None
    await asyncio.to_thread(stack.start_part, "writer")
    catch_up = await writer_caught_up(bootstrap, 300)
    print(f"warehouse writer caught up with the {events:,} events (and their sessions) in {catch_up:.1f} s",
          flush=True)  # fmt: skip
    await create_site(bootstrap, site_id=SITE_ID, name="Benchmark", domains=["shop.example"])
    # One IP sends everything through a trusted proxy header; lift the limits so that the path is measured.
    for limit in ("RATE_PER_IP", "BURST_PER_IP", "RATE_PER_SITE", "BURST_PER_SITE"):
        os.environ[f"BEACON_COLLECTOR_{limit}"] = "1e9"
    await asyncio.to_thread(stack.start_part, "collector")
    await _site_known(settings.collector_url)
    async with Offsets(bootstrap) as offsets:
        events_from = await offsets.ends(EVENTS)
    sent = await send_steadily(settings.collector_url, arguments.rate, arguments.seconds, arguments.batch, 5000)
    latencies = await asyncio.to_thread(latencies_of, settings.clickhouse_address, sent, arguments.wait)
    written = await events_written_at(bootstrap, events_from)
    latencies.to_stream.extend(sorted(written[event_id] - due for event_id, due in sent.sent_at.items()
                                      if event_id in written))  # fmt: skip
    return produce_rate, baseline, run, idle_mib, loaded_mib, changelog, latencies, sent


async def _site_known(collector_url: str) -> None:
    body = orjson.dumps({"site": SITE_ID, "events": [{"name": "probe", "anonymous_id": "probe"}]})
    async with httpx.AsyncClient(base_url=collector_url) as client:
        for _ in range(150):
            response = await client.post("/api/events", content=body, headers={"Origin": SHOP})
            if response.status_code == 200:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the collector does not accept events for {SITE_ID}: {response.text[:300]}")


def report(
    arguments: argparse.Namespace,
    in_process: InProcess,
    visitors: int,
    produce_rate: float,
    baseline: float,
    run: StreamRun,
    idle_mib: float,
    loaded_mib: float,
    changelog: list[int],
    latencies: Latencies | None,
    sent: Sent | None,
) -> None:
    rate = run.hits / run.seconds
    pure = sum(in_process.microseconds.values())
    per_hit = 1e6 / rate
    sessions = retained_sessions(in_process.states)
    state_bytes = sum(in_process.state_bytes)
    print("\nthroughput, one stream worker (2 cores shared with the broker)")
    print(f"  bare aiokafka consume -> produce (baseline) {baseline:>10,.0f} msg/s")
    print(f"  stream worker, normalize+enrich+sessionize  {rate:>10,.0f} hits/s   ratio to baseline "
          f"{rate / baseline:.2f}; goal >= {GOAL_EVENTS_PER_SECOND:,} events/s: "
          f"{'met' if rate >= GOAL_EVENTS_PER_SECOND else 'NOT met'}")  # fmt: skip
    print(
        f"    {run.hits:,} hits -> {run.events:,} events in {run.seconds:.2f} s after a start-up of "
        f"{run.startup_seconds:.1f} s; offsets committed {run.committed_seconds - run.seconds:+.1f} s later"
    )
    worker_cpu = run.cpu_seconds["stream"] / run.hits * 1e6
    shares = ", ".join(f"{part} {seconds / run.seconds:.0%}" for part, seconds in run.cpu_seconds.items())
    print(f"  CPU during the run (of one core): {shares}")
    print(
        f"  per hit: {per_hit:.0f} µs of wall time, {worker_cpu:.0f} µs of the worker's CPU = {pure:.0f} µs of "
        f"stages (in process) + {worker_cpu - pure:.0f} µs of faust, Kafka clients and the table "
        f"({(worker_cpu - pure) / worker_cpu:.0%})"
    )
    print(
        f"  records produced per hit: {sum(in_process.produced.values()):.2f} ("
        + ", ".join(f"{topic} {count:.2f}" for topic, count in in_process.produced.items())
        + ")"
    )
    print(f"  stages alone (fastest of {arguments.rounds} in-process passes) would allow {1e6 / pure:,.0f} hits/s "
          f"on one core; pre-load ran at {produce_rate:,.0f} msg/s")  # fmt: skip
    print("\nmemory and state")
    print(
        f"  worker RSS (process group): idle {idle_mib:.0f} MiB, after {run.hits:,} hits of {visitors:,} "
        f"visitors {loaded_mib:.0f} MiB ({(loaded_mib - idle_mib) * 1024 * 1024 / visitors:,.0f} B per visitor)"
    )
    print(
        f"  visitor state, in process: {state_bytes / len(in_process.state_bytes):,.0f} B per visitor, "
        f"{state_bytes / max(sessions, 1):,.0f} B per retained session ({sessions:,} sessions)"
    )
    if changelog:
        print(
            f"  visitor state, changelog (latest per key): {len(changelog):,} visitors, "
            f"{statistics.mean(changelog):,.0f} B per visitor (median {statistics.median(changelog):,.0f})"
        )
    if latencies is None or sent is None:
        return
    total, to_collector = latencies.total, latencies.to_collector
    p95 = percentile(total, 0.95)
    third = max(len(total) // 3, 1)
    if arguments.rate < 2000:
        verdict = f"{'under' if p95 < GOAL_P95_SECONDS else 'NOT under'} 2 s at this rate (the goal is at 2,000/s)"
    else:
        verdict = "met" if p95 < GOAL_P95_SECONDS and sent.refused == 0 else "NOT met"
    print(f"\nhit -> queryable, browser API, {arguments.batch} events per request (one visitor's), "
          f"{arguments.rate:,.0f} events/s for {sent.seconds:.0f} s, open loop")  # fmt: skip
    answered = f"p50 {percentile(sent.answered, 0.5):.3f} s p95 {percentile(sent.answered, 0.95):.3f} s"
    print(f"  {latencies.stored:,} of {latencies.expected:,} accepted events stored within {arguments.wait:.0f} s "
          f"of the last send ({sent.refused} refused); requests answered {answered}; "
          f"load generator late by up to {max(sent.late):.3f} s")  # fmt: skip
    print(f"  sent -> queryable  p50 {seconds_text(percentile(total, 0.5))}  p95 {seconds_text(p95)}  "
          f"p99 {seconds_text(percentile(total, 0.99))}  max {seconds_text(max(total))}; "
          f"goal p95 < {GOAL_P95_SECONDS:.0f} s at 2,000 events/s: {verdict}")  # fmt: skip
    to_collector_ms = [seconds * 1000 for seconds in to_collector]
    print(f"  of which sent -> received by the collector (stored events)  "
          f"p50 {percentile(to_collector_ms, 0.5):.0f} ms  p95 {percentile(to_collector_ms, 0.95):.0f} ms")  # fmt: skip
    if latencies.to_stream:
        print(f"  of which sent -> produced to beacon.events by the stream worker  "
              f"p50 {seconds_text(percentile(latencies.to_stream, 0.5))}  "
              f"p95 {seconds_text(percentile(latencies.to_stream, 0.95))}; the rest is the warehouse writer "
              f"(batches of up to {WRITER_FLUSH_SECONDS:.0f} s) and the insert")  # fmt: skip
    early, late = percentile(total[:third], 0.95), percentile(total[-third:], 0.95)
    print(
        f"  p95 of the first and last third of the run: {seconds_text(early)}, {seconds_text(late)}"
        + (" (growing: the pipeline does not keep up with this rate)" if late > 2 * early + 0.5 else "")
    )


if __name__ == "__main__":
    main()
