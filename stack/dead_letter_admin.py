"""Inspect and replay dead letters: after the cause is fixed (a site registered, a bug deployed), re-submit
what was refused. Replayed hits keep their ids, so replaying twice counts once, and they go out through the
collector's own Kafka sink, so each lands on its visitor's partition as if the collector had accepted it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from collector.hit_sink import KafkaProducerSink, raw_hit_record
from schemas.events import RawHit

_HITS_PER_SEND = 10_000  # well under librdkafka's queue (100,000 records), each batch acknowledged in full
_SEND_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class DeadLetterFilter:
    reason: str | None = None
    stage: str | None = None
    site_id: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses, parameters = ["1"], {}
        for column, value in (("reason", self.reason), ("stage", self.stage), ("site_id", self.site_id)):
            if value is not None:
                clauses.append(f"{column} = {{{column}:String}}")
                parameters[column] = value
        return " AND ".join(clauses), parameters


@dataclass(frozen=True)
class ReplayReport:
    replayed: int
    not_replayable: int  # whole requests refused before they became hits (bad JSON, bad write key, ...)


def summarize(client: Client, selection: DeadLetterFilter) -> list[Sequence[Any]]:
    """Counts by stage and reason, newest first, with one example detail each."""
    where, parameters = selection.where()
    return list(
        client.query(
            "SELECT stage, reason, count() AS dead_letters, max(received_at) AS latest, any(detail) AS example"
            f" FROM beacon.dead_letters FINAL WHERE {where} GROUP BY stage, reason ORDER BY latest DESC",
            parameters=parameters,
        ).result_rows
    )


def replay(client: Client, kafka_bootstrap: str, selection: DeadLetterFilter) -> ReplayReport:
    """Re-publish every selected dead letter that holds a raw hit to the raw-hits topic."""
    where, parameters = selection.where()
    payloads = [
        payload
        for (payload,) in client.query(
            f"SELECT payload FROM beacon.dead_letters FINAL WHERE {where} ORDER BY received_at", parameters=parameters
        ).result_rows
    ]
    hits = []
    for payload in payloads:
        try:
            hits.append(RawHit.model_validate_json(payload))
        except ValidationError:
            continue
    asyncio.run(_publish(kafka_bootstrap, hits))
    return ReplayReport(replayed=len(hits), not_replayable=len(payloads) - len(hits))


async def _publish(kafka_bootstrap: str, hits: list[RawHit]) -> None:
    # Not another client's producer: aiokafka's default partitioner (murmur2) put replayed hits on partitions
    # where the stream worker did not hold their visitors' state.
    sink = KafkaProducerSink(kafka_bootstrap)
    await sink.start()
    try:
        for first in range(0, len(hits), _HITS_PER_SEND):
            records = [raw_hit_record(hit) for hit in hits[first : first + _HITS_PER_SEND]]
            await sink.send(records, timeout_seconds=_SEND_TIMEOUT_SECONDS)
    finally:
        await sink.stop()
