"""The normalize agent: raw hits -> events topic, or dead-letters topic. Never stops on a bad message."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog
from faust import StreamT
from prometheus_client import Counter

from schemas.events import Event
from schemas.topics import DEAD_LETTERS, EVENTS, RAW_HITS
from stream_processors.app import app, settings
from stream_processors.normalize.pipeline import normalize_payload, normalize_steps

NORMALIZED = Counter("beacon_normalize_events_total", "Raw hits normalized into events")
DROPPED = Counter("beacon_normalize_dropped_total", "Raw hits sent to dead letters", ["reason"])
FORWARD_FAILURES = Counter("beacon_normalize_forward_failures_total", "Records the broker did not accept")

log = structlog.get_logger("normalize")
raw_hits_topic = app.topic(RAW_HITS.name, partitions=RAW_HITS.partitions)
STEPS = normalize_steps(keep_full_ip=settings.stream_keep_full_ip)
if settings.stream_keep_full_ip:
    log.warning("client_ips_stored_whole", setting="BEACON_STREAM_KEEP_FULL_IP")


@app.agent(raw_hits_topic, name="normalize_hits")
async def normalize_hits(stream: StreamT[bytes]) -> None:
    # faust flushes the producer before it commits the input offsets, so every forwarded record is on the
    # broker before its raw hit counts as done (at-least-once; downstream is idempotent on event_id).
    async for payload in stream:
        outcome = normalize_payload(payload, steps=STEPS)
        if isinstance(outcome, Event):
            NORMALIZED.inc()
            delivery = await app.producer.send(
                EVENTS.name, key=outcome.partition_key(), value=outcome.model_dump_json().encode(),
                partition=None, timestamp=None, headers=None,
            )  # fmt: skip
        else:
            DROPPED.labels(outcome.reason.value).inc()
            delivery = await app.producer.send(
                DEAD_LETTERS.name, key=str(outcome.dead_letter_id).encode(),
                value=outcome.model_dump_json().encode(), partition=None, timestamp=None, headers=None,
            )  # fmt: skip
        cast(asyncio.Future[object], delivery).add_done_callback(_count_failure)


def _count_failure(delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        FORWARD_FAILURES.inc()
        log.error("forward_failed", error=str(delivery.exception()))
