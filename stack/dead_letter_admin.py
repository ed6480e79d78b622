"""Inspect and replay dead letters: after the cause is fixed (a site registered, a bug deployed), re-submit
what was refused. Replayed hits keep their ids, so replaying twice counts once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from schemas.events import RawHit
from schemas.topics import RAW_HITS


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
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        deliveries = [
            await producer.send(RAW_HITS.name, hit.model_dump_json().encode(), key=hit.partition_key()) for hit in hits
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
