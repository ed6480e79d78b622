"""The collector's one way out: raw hits and collector-stage dead letters to Kafka.

A hit is acknowledged to the caller only after the broker has it (acks=all, idempotent producer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from schemas.dead_letters import DeadLetter
from schemas.events import RawHit
from schemas.topics import DEAD_LETTERS, RAW_HITS


class KafkaHitSink:
    def __init__(self, bootstrap: str, send_timeout_seconds: float) -> None:
        self._bootstrap = bootstrap
        self._send_timeout = send_timeout_seconds
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop, so it is made here, not in __init__.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            compression_type="lz4",
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send_hits(self, hits: Sequence[RawHit]) -> None:
        """Hand every hit to the producer at once (one batch on the wire), then wait for all acks."""
        await self._send_all([(RAW_HITS.name, hit.partition_key(), hit) for hit in hits])

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self._send_all([(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter) for letter in letters])

    async def flush(self) -> None:
        if self._producer is not None:
            await self._producer.flush()

    async def _send_all(self, records: Sequence[tuple[str, bytes, BaseModel]]) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaHitSink.start() was not awaited")
        deliveries = [
            await self._producer.send(topic, value=record.model_dump_json().encode(), key=key)
            for topic, key, record in records
        ]
        await asyncio.wait_for(asyncio.gather(*deliveries), self._send_timeout)
