"""The segment webhook sender: ``beacon.segment_changes`` → each segment's webhook URLs, signed and retried.

Every change of a segment that names webhooks (``webhooks:`` in its YAML) is POSTed to each of them as the
``SegmentChange`` JSON (schema v1), signed (``webhook_signatures``) with a delivery id that is the same on every
attempt (``webhook_requests``), and retried with backoff on connection errors, timeouts, 408, 429 and 5xx
(``webhook_retries``). A destination that refuses it (another 4xx, a redirect), or still fails when the retries are
used up, sends it to ``beacon.dead_letters`` with the reason and the change: nothing is silently lost.

Order: a person's changes are on one partition, in order; each is delivered to a destination only after the
person's previous change to that destination was delivered or dead-lettered, while other people's changes go
on meanwhile. Offsets are committed only up to the first change not yet finished, so a crash re-delivers (at
least once, same delivery id). Memory is bounded: a partition with too many changes in flight is paused.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram

from destinations.pending_offsets import PartitionProgress
from destinations.settings import SegmentWebhookSettings
from destinations.webhook_requests import WebhookRequest, change_body, delivery_id, webhook_request
from destinations.webhook_retries import (
    Answer,
    Outcome,
    RetryPolicy,
    Unreachable,
    Verdict,
    describe,
    judge,
    retry_after_seconds,
)
from runtime.definitions import DefinitionFolder
from runtime.logging import configure_logging
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from runtime.settings import load_settings
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.segments import SegmentChange, SegmentDefinition, WebhookDestination
from schemas.topics import DEAD_LETTERS, SEGMENT_CHANGES
from stream_processors.fetch_pacing import pace_empty_fetches

DELIVERIES = Counter(
    "beacon_webhook_deliveries_total", "Changes finished per destination, by outcome", ["segment_id", "outcome"]
)
ATTEMPTS = Counter("beacon_webhook_attempts_total", "Requests sent, by answer (2xx, 4xx, 5xx, unreachable)", ["answer"])
SKIPPED = Counter("beacon_webhook_skipped_changes_total", "Changes of segments without webhooks")
PENDING = Gauge("beacon_webhook_pending_changes", "Changes read and not yet delivered or dead-lettered")
DELIVERY_LAG = Histogram(
    "beacon_webhook_delivery_lag_seconds", "From a change (changed_at) to its acceptance by a destination",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 3600),
)  # fmt: skip

EXCERPT_BYTES = 512  # of a destination's answer, kept in the dead letter
COMMIT_INTERVAL_SECONDS = 0.5
STOP_GRACE_SECONDS = 5.0

log = structlog.get_logger("segment_webhooks")


async def post(client: httpx.AsyncClient, request: WebhookRequest, limit_seconds: float) -> Outcome:
    """One attempt, within ``limit_seconds`` in all; only the beginning of the answer is read."""
    try:
        async with (
            asyncio.timeout(limit_seconds),
            client.stream(
                "POST", request.url, content=request.body, headers=request.headers, timeout=limit_seconds
            ) as response,
        ):
            excerpt = b""
            async for chunk in response.aiter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
            return Answer(
                status=response.status_code,
                retry_after=response.headers.get("Retry-After"),
                excerpt=excerpt[:EXCERPT_BYTES].decode(errors="replace").strip(),
            )
    except httpx.TransportError as error:  # connection refused or reset, DNS, TLS, timeouts
        return Unreachable(f"{type(error).__name__}: {error}"[:300])
    except TimeoutError:  # (a destination answering byte by byte)
        return Unreachable(f"no complete answer within {limit_seconds:g} s")


class SegmentWebhookSender:
    def __init__(
        self,
        settings: SegmentWebhookSettings,
        client: httpx.AsyncClient | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._keys = settings.signing_keys()
        self._policy = settings.retry_policy()
        self._jitter = jitter
        self._definitions = DefinitionFolder(settings.definitions_dir)
        self._segments: dict[str, SegmentDefinition] = {}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.webhook_group_id,
            group_instance_id=settings.group_instance_id(),  # a restarted sender takes its partitions back at once
            enable_auto_commit=False,  # offsets move only past changes delivered or dead-lettered
            auto_offset_reset="earliest",
            max_poll_interval_ms=15 * 60 * 1000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,  # a signed change goes where it was configured to, nowhere else
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
        )
        self._requests = asyncio.Semaphore(settings.webhook_concurrency)
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._lanes: dict[tuple[bytes, str], asyncio.Task[None]] = {}  # (person key, url) -> their latest delivery
        self._committed: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self.healthy = False

    async def run(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe([SEGMENT_CHANGES.name], listener=_SettleBeforeRevoke(self))
        self._load_definitions()
        self.healthy = True
        last_commit = time.monotonic()
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
                if batches:
                    self._load_definitions()  # (a change's segment file exists before the change does)
                for partition, records in batches.items():
                    for record in records:
                        self._start(partition, record)
                self._pause_full_partitions()
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_SECONDS:
                    await self.commit()
                    last_commit = time.monotonic()
            await self._settle(list(self._progress), grace_seconds=STOP_GRACE_SECONDS)
        finally:
            self.healthy = False
            await self._consumer.stop()
            await self._producer.stop()
            await self._client.aclose()

    def stop(self) -> None:
        self._stopping.set()

    async def commit(self, partitions: list[TopicPartition] | None = None) -> None:
        """Commit each partition up to its first change not finished."""
        offsets = {}
        for partition in partitions if partitions is not None else list(self._progress):
            progress = self._progress.get(partition)
            offset = progress.committable() if progress is not None else None
            if offset is not None and offset != self._committed.get(partition):
                offsets[partition] = offset
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:  # a rebalance or the broker away: whoever owns them re-delivers from before
            log.warning("commit_failed_changes_will_be_redelivered", error=str(error)[:300])
            return
        self._committed.update(offsets)

    async def _settle(self, partitions: list[TopicPartition], grace_seconds: float) -> None:
        """Give these partitions' deliveries a moment, commit what finished, and stop the rest (re-delivered by
        whoever reads the partition next, under the same delivery ids)."""
        tasks = [task for partition in partitions for task in self._tasks.get(partition, ())]
        if tasks and grace_seconds > 0:
            await asyncio.wait(tasks, timeout=grace_seconds)
        await self.commit(partitions)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for partition in partitions:
            self._progress.pop(partition, None)
            self._tasks.pop(partition, None)
            self._committed.pop(partition, None)
        PENDING.set(sum(len(progress) for progress in self._progress.values()))

    def _load_definitions(self) -> None:
        if not self._definitions.changed():
            return
        read = self._definitions.read_segments()
        for problem in read.problems:
            log.error("definition_not_used", problem=problem)
        self._segments = {segment.segment_id: segment for segment in read.segments}
        with_webhooks = {segment.segment_id: len(segment.webhooks) for segment in read.segments if segment.webhooks}
        log.info("webhooks_loaded", segments=with_webhooks)

    def _start(self, partition: TopicPartition, record: Any) -> None:
        """Queue a record's deliveries now, in the order records are read (so a person's changes stay in order),
        and track its offset until they are all finished."""
        progress = self._progress.setdefault(partition, PartitionProgress())
        progress.started(record.offset)
        work = self._work_of(record.key or b"", record.value or b"")
        if work is None:
            progress.finished(record.offset)
            return
        task = asyncio.create_task(work)
        tasks = self._tasks.setdefault(partition, set())
        tasks.add(task)
        offset: int = record.offset

        def finished(done: asyncio.Task[None]) -> None:
            tasks.discard(done)
            if not done.cancelled():  # (a cancelled delivery is not finished: its offset stays uncommitted)
                progress.finished(offset)
            PENDING.set(sum(len(progress) for progress in self._progress.values()))

        task.add_done_callback(finished)
        PENDING.set(sum(len(progress) for progress in self._progress.values()))

    def _pause_full_partitions(self) -> None:
        limit = self._settings.webhook_max_pending_per_partition
        paused = self._consumer.paused()
        for partition in self._consumer.assignment():
            full = len(self._progress.get(partition, ())) >= limit
            if full and partition not in paused:
                self._consumer.pause(partition)
            elif not full and partition in paused:
                self._consumer.resume(partition)

    def _work_of(self, key: bytes, value: bytes) -> Coroutine[Any, Any, None] | None:
        """What a record needs: its deliveries (queued behind the person's previous ones), a dead letter if it is
        not a change, or nothing if its segment has no webhooks."""
        try:
            change = SegmentChange.model_validate_json(value)
        except ValueError as error:
            return self._send_dead_letter(
                DeadLetter.of_unreadable_payload(
                    Stage.SEGMENT_WEBHOOKS, DropReason.UNPARSEABLE_PAYLOAD, str(error)[:500], value, datetime.now(UTC)
                )
            )
        segment = self._segments.get(change.segment_id)
        if segment is None or not segment.webhooks:
            SKIPPED.inc()
            return None
        return self._finish(change, [self._queue(key, change, webhook) for webhook in segment.webhooks])

    def _queue(self, key: bytes, change: SegmentChange, destination: WebhookDestination) -> asyncio.Task[None]:
        """The delivery of ``change`` to ``destination``, started once the person's previous one there ended."""
        lane = (key, destination.url)
        current = asyncio.create_task(self._after(self._lanes.get(lane), change, destination))
        self._lanes[lane] = current

        def leave(done: asyncio.Task[None]) -> None:
            if self._lanes.get(lane) is done:
                del self._lanes[lane]

        current.add_done_callback(leave)
        return current

    async def _after(
        self, previous: asyncio.Task[None] | None, change: SegmentChange, destination: WebhookDestination
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # however it ended: delivered, dead-lettered, or failed
        await self._deliver(change, destination)

    async def _finish(self, change: SegmentChange, deliveries: list[asyncio.Task[None]]) -> None:
        """Wait for every destination; a delivery that failed on a bug leaves the change in dead letters."""
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, Exception):  # a bug must not stop the sender, nor lose the change
                log.error("webhook_sender_error", segment_id=change.segment_id, error=repr(result)[:500])
                await self._send_dead_letter(
                    DeadLetter.of_unreadable_payload(
                        Stage.SEGMENT_WEBHOOKS, DropReason.PIPELINE_ERROR, f"{type(result).__name__}: {result}"[:500],
                        change_body(change), datetime.now(UTC), site_id=change.site_id,
                    )
                )  # fmt: skip

    async def _deliver(self, change: SegmentChange, destination: WebhookDestination) -> None:
        """Attempts until the destination takes the change, refuses it, or the retries are used up."""
        policy = self._policy_of(destination)
        timeout = (destination.timeout_ms or self._settings.webhook_timeout_seconds * 1000) / 1000
        first = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = webhook_request(change, destination.url, self._keys, attempt, int(time.time()))
            async with self._requests:
                outcome = await post(self._client, request, timeout)
            ATTEMPTS.labels(_answer_class(outcome)).inc()
            verdict = judge(outcome)
            if verdict is Verdict.DELIVERED:
                DELIVERIES.labels(change.segment_id, "delivered").inc()
                DELIVERY_LAG.observe(max(0.0, (datetime.now(UTC) - change.changed_at).total_seconds()))
                return
            if verdict is Verdict.REJECTED:
                await self._give_up(change, destination, DropReason.WEBHOOK_REJECTED, attempt, outcome)
                return
            now = datetime.now(UTC)
            wait = policy.next_attempt_in(
                attempt,
                time.monotonic() - first,
                retry_after_seconds(outcome.retry_after if isinstance(outcome, Answer) else None, now),
                self._jitter,
            )
            if wait is None:
                await self._give_up(change, destination, DropReason.WEBHOOK_RETRIES_EXHAUSTED, attempt, outcome)
                return
            log.info(
                "webhook_retry", segment_id=change.segment_id, url=destination.shown_url, attempt=attempt,
                outcome=describe(outcome)[:200], retry_in_seconds=round(wait, 2),
            )  # fmt: skip
            await asyncio.sleep(wait)

    def _policy_of(self, destination: WebhookDestination) -> RetryPolicy:
        if destination.give_up_after_ms is None:
            return self._policy
        return RetryPolicy(
            max_attempts=self._policy.max_attempts,
            give_up_after_seconds=destination.give_up_after_ms / 1000,
            first_retry_seconds=self._policy.first_retry_seconds,
            max_retry_seconds=self._policy.max_retry_seconds,
        )

    async def _give_up(
        self, change: SegmentChange, destination: WebhookDestination, reason: DropReason, attempts: int,
        outcome: Outcome,
    ) -> None:  # fmt: skip
        DELIVERIES.labels(change.segment_id, reason.value).inc()
        detail = f"{destination.shown_url}: {describe(outcome)} (after {attempts} attempt{'s' * (attempts > 1)})"
        log.warning("webhook_dead_letter", segment_id=change.segment_id, reason=reason.value, detail=detail[:300])
        now = datetime.now(UTC)
        await self._send_dead_letter(
            DeadLetter.of_text(
                delivery_id(change, destination.url), Stage.SEGMENT_WEBHOOKS, reason, detail[:1000],
                change.site_id, change.changed_at, now, change_body(change).decode(),
            )
        )  # fmt: skip

    async def _send_dead_letter(self, letter: DeadLetter) -> None:
        backoff = 0.5
        while True:  # its offset is committed after this, so the dead letter must be on the broker first
            try:
                await self._producer.send_and_wait(
                    DEAD_LETTERS.name, letter.model_dump_json().encode(), key=str(letter.dead_letter_id).encode()
                )
                return
            except KafkaError as error:
                log.warning("dead_letter_not_sent", error=str(error)[:300], retry_in_seconds=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


def _answer_class(outcome: Outcome) -> str:
    return "unreachable" if isinstance(outcome, Unreachable) else f"{outcome.status // 100}xx"


class _SettleBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commit what was delivered before partitions move to another sender, and stop the rest."""

    def __init__(self, sender: SegmentWebhookSender) -> None:
        self._sender = sender

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._sender._settle(list(revoked), grace_seconds=0)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


async def serve(settings: SegmentWebhookSettings) -> None:
    sender = SegmentWebhookSender(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, sender.stop)

    async def health(_: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok" if sender.healthy else "starting"}, status=200 if sender.healthy else 503
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    web_app = web.Application()
    web_app.router.add_get("/health", health)
    web_app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    try:
        await sender.run()
    finally:
        await runner.cleanup()


def main() -> None:
    settings = load_settings(SegmentWebhookSettings)
    configure_logging("segment-webhooks")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # (a line per request, with the URL's query string)
    pace_empty_fetches()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
