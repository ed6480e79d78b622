"""The collector's one way out: raw hits and collector-stage dead letters to Kafka.

A hit is acknowledged to the caller only after the broker has it (acks=all, idempotent producer).
"""

from __future__ import annotations

import asyncio

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

    async def send_hit(self, hit: RawHit) -> None:
        await self._send(RAW_HITS.name, hit.partition_key(), hit)

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        await self._send(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter)

    async def flush(self) -> None:
        if self._producer is not None:
            await self._producer.flush()

    async def _send(self, topic: str, key: bytes, record: BaseModel) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaHitSink.start() was not awaited")
        delivery = await self._producer.send(topic, value=record.model_dump_json().encode(), key=key)
        await asyncio.wait_for(delivery, self._send_timeout)
