"""The collector's one way out: raw hits and collector-stage dead letters to Kafka, never lost.

A hit is acknowledged to its sender only once the broker has it (idempotent producer, acks=all) or, when
the broker is down or slow, once it is fsync'd in the on-disk spool. While the spool holds anything, new
records are spooled too, so the drainer delivers everything in the order it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge, Histogram

from collector.spool import Spool, SpooledRecord
from schemas.dead_letters import DeadLetter
from schemas.events import RawHit
from schemas.topics import DEAD_LETTERS, RAW_HITS

PRODUCE_SECONDS = Histogram("beacon_collector_produce_seconds", "Time until the broker acknowledged a request")
SPOOLED = Counter("beacon_collector_spooled_records_total", "Records written to the spool")
DRAINED = Counter("beacon_collector_drained_records_total", "Spooled records delivered to the broker")
SPOOL_BYTES = Gauge("beacon_collector_spool_bytes", "Bytes waiting in the spool")

log = structlog.get_logger("collector.sink")


class KafkaProducerSink:
    """Kafka only: every record handed to the producer at once, then every ack awaited."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
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

    async def send(self, records: Sequence[SpooledRecord], timeout_seconds: float) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaProducerSink.start() was not awaited")
        producer = self._producer

        async def send_all() -> None:
            deliveries = [await producer.send(record.topic, record.value, key=record.key) for record in records]
            await asyncio.gather(*deliveries)

        await asyncio.wait_for(send_all(), timeout_seconds)


class DurableHitSink:
    def __init__(self, kafka: KafkaProducerSink, spool: Spool, send_timeout_seconds: float) -> None:
        self._kafka = kafka
        self.spool = spool
        self._send_timeout = send_timeout_seconds
        self._spooling = not spool.is_empty()  # a spool left by a previous run is drained first
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._kafka.start()
        except Exception as error:  # the broker may be down at start: the spool takes over until it returns
            log.warning("broker_unavailable_at_start", error=str(error))
            self._spooling = True
        self._drainer = asyncio.create_task(self._drain_forever())
        self._wake.set()

    async def stop(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        with contextlib.suppress(Exception):
            await self._kafka.stop()

    async def send_hits(self, hits: Sequence[RawHit]) -> None:
        await self._deliver(
            [SpooledRecord(RAW_HITS.name, hit.partition_key(), hit.model_dump_json().encode()) for hit in hits]
        )

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self._deliver(
            [
                SpooledRecord(DEAD_LETTERS.name, str(letter.dead_letter_id).encode(), letter.model_dump_json().encode())
                for letter in letters
            ]
        )

    async def _deliver(self, records: list[SpooledRecord]) -> None:
        """Deliver to the broker, or spool; raises ``SpoolFullError`` only when neither can take the records."""
        if not self._spooling:
            try:
                with PRODUCE_SECONDS.time():
                    await self._kafka.send(records, self._send_timeout)
                return
            except Exception as error:  # broker down, slow or refusing: switch to the spool, in order
                log.warning("broker_unavailable_spooling", error=str(error) or type(error).__name__)
                self._spooling = True
        self.spool.append(records)
        SPOOLED.inc(len(records))
        SPOOL_BYTES.set(self.spool.size_bytes)
        self._wake.set()

    async def _drain_forever(self) -> None:
        backoff = 0.5
        while True:
            await self._wake.wait()
            segment = await asyncio.to_thread(self.spool.oldest_segment)
            if segment is None:
                if self.spool.is_empty():
                    if self._spooling:
                        log.info("spool_drained")
                    self._spooling = False
                    self._wake.clear()
                continue
            path, records = segment
            try:
                await self._kafka.send(records, timeout_seconds=60)
            except Exception as error:
                log.warning("drain_failed", error=str(error) or type(error).__name__, retry_in_seconds=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.spool.remove(path)
            DRAINED.inc(len(records))
            SPOOL_BYTES.set(self.spool.size_bytes)
            backoff = 0.5
