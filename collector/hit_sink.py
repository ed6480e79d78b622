"""The collector's one way out: raw hits and collector-stage dead letters to Kafka, never lost.

A hit is acknowledged to its sender only once the broker has it (idempotent producer, acks=all) or, when
the broker is down or slow, once it is fsync'd in the on-disk spool. While the spool holds anything, new
records are spooled too, so the drainer delivers everything in the order it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import Counter, Gauge, Histogram

from collector.spool import Spool, SpooledRecord
from schemas.dead_letters import DeadLetter
from schemas.events import RawHit
from schemas.topics import DEAD_LETTERS, RAW_HITS, raw_hits_partition

PRODUCE_SECONDS = Histogram("beacon_collector_produce_seconds", "Time until the broker acknowledged a request")
SPOOLED = Counter("beacon_collector_spooled_records_total", "Records written to the spool")
DRAINED = Counter("beacon_collector_drained_records_total", "Spooled records delivered to the broker")
SPOOL_BYTES = Gauge("beacon_collector_spool_bytes", "Bytes waiting in the spool")

log = structlog.get_logger("collector.sink")

_ANY_PARTITION = -1  # librdkafka's RD_KAFKA_PARTITION_UA: its partitioner chooses


def raw_hit_record(hit: RawHit) -> SpooledRecord:
    """A raw hit as a Kafka record, keyed by its visitor: the one shape every producer of raw hits sends."""
    return SpooledRecord(RAW_HITS.name, hit.partition_key(), hit.to_json())


def partition_of(record: SpooledRecord) -> int:
    """Raw hits go to the partition that holds their visitor's state (``raw_hits_partition``), never where a
    client's default partitioner would put them; other records (dead letters) wherever librdkafka likes."""
    return raw_hits_partition(record.key) if record.topic == RAW_HITS.name else _ANY_PARTITION


class KafkaProducerSink:
    """Kafka only, through librdkafka (confluent-kafka): produce() is a few microseconds, where aiokafka's
    send() costs tens of microseconds of Python per record, most of a pixel hit's budget (docs/benchmarks.md).

    Two producers share the broker connection settings: one reports every delivery (``send``, for callers
    that wait for acks) and one reports failures only (``enqueue``, for the pixel), so a healthy pixel hit
    costs no Python callback at all. A thread polls both; reports reach the event loop through
    call_soon_threadsafe. Every record goes to the partition ``partition_of`` names.
    """

    def __init__(self, bootstrap: str, delivery_timeout_seconds: float = 10.0) -> None:
        self._config = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
            # Undeliverable after this long: the record is reported failed and goes to the spool.
            "message.timeout.ms": int(delivery_timeout_seconds * 1000),
            "log.connection.close": False,
            "logger": logging.getLogger("collector.librdkafka"),
        }
        self._producer: Producer | None = None
        self._failures_only_producer: Producer | None = None
        self._on_failure: Callable[[SpooledRecord], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._polling = threading.Event()
        self._poller: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self._config)
        self._failures_only_producer = Producer(
            {**self._config, "delivery.report.only.error": True, "on_delivery": self._report_failure}
        )
        self._polling.set()
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-delivery-reports", daemon=True)
        self._poller.start()
        # Fail fast when the broker is unreachable at start, so the spool takes over at once.
        await asyncio.to_thread(self._producer.list_topics, RAW_HITS.name, 5)

    async def stop(self) -> None:
        for producer in (self._producer, self._failures_only_producer):
            if producer is not None and await asyncio.to_thread(producer.flush, 10.0) > 0:
                # Still undelivered (the broker is down): fail them now, so their reports spool them.
                producer.purge()
                await asyncio.to_thread(producer.flush, 1)
        await asyncio.sleep(0)  # run the failure handlers those reports scheduled on this loop
        self._polling.clear()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 5)

    def on_failure(self, handler: Callable[[SpooledRecord], None]) -> None:
        """``handler`` runs on the event loop for each enqueued record that is never delivered."""
        self._on_failure = handler

    def enqueue(self, record: SpooledRecord) -> None:
        """Hand one record to the producer, without waiting; failures go to the ``on_failure`` handler.

        Raises ``BufferError`` when the producer's queue is full (the broker is far behind).
        """
        assert self._failures_only_producer is not None, "KafkaProducerSink.start() was not awaited"
        # No per-record callback: one producer-wide report (failures only) saves a closure and its
        # bookkeeping per hit; the record is rebuilt from the failed message.
        self._failures_only_producer.produce(record.topic, record.value, key=record.key, partition=partition_of(record))

    def _report_failure(self, error: KafkaError | None, message: Message) -> None:
        """On librdkafka's report thread (via poll): hand the undelivered record to the event loop."""
        if error is None or self._on_failure is None or self._loop is None:
            return
        record = SpooledRecord(message.topic() or "", message.key() or b"", message.value() or b"")
        self._loop.call_soon_threadsafe(self._on_failure, record)

    async def send(self, records: Sequence[SpooledRecord], timeout_seconds: float) -> None:
        """Produce every record and wait until the broker acknowledged all of them (or one failed).

        The reports are counted on the report thread, and the event loop is woken once per request rather
        than once per record (each wake-up is a write to the loop's self-pipe).
        """
        producer, loop = self._started()
        if not records:
            return
        done: asyncio.Future[None] = loop.create_future()
        pending = [len(records)]  # only the report thread changes it once produce() has been called

        def settle(error: KafkaError | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(KafkaException(error))
            else:
                done.set_result(None)

        def report(error: KafkaError | None, _message: object) -> None:
            if error is not None:
                loop.call_soon_threadsafe(settle, error)
                return
            pending[0] -= 1
            if pending[0] == 0:
                loop.call_soon_threadsafe(settle, None)

        for record in records:
            producer.produce(
                record.topic, record.value, key=record.key, partition=partition_of(record), on_delivery=report
            )
        await asyncio.wait_for(done, timeout_seconds)

    def _started(self) -> tuple[Producer, asyncio.AbstractEventLoop]:
        if self._producer is None or self._loop is None:
            raise RuntimeError("KafkaProducerSink.start() was not awaited")
        return self._producer, self._loop

    def _poll_forever(self) -> None:
        producers = [producer for producer in (self._producer, self._failures_only_producer) if producer is not None]
        while self._polling.is_set():
            for producer in producers:
                producer.poll(0.025)


class DurableHitSink:
    def __init__(self, kafka: KafkaProducerSink, spool: Spool, send_timeout_seconds: float) -> None:
        self._kafka = kafka
        self.spool = spool
        self._send_timeout = send_timeout_seconds
        self._spooling = not spool.is_empty()  # a spool left by a previous run is drained first
        kafka.on_failure(self._spool_undelivered)
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
        await self._deliver([raw_hit_record(hit) for hit in hits])

    def send_hit_nowait(self, hit: RawHit) -> None:
        """For callers that cannot report a failure (the pixel): returns once the hit is in the producer's
        queue or the spool; if the broker never takes it, it goes to the spool then."""
        record = raw_hit_record(hit)
        if not self._spooling:
            try:
                self._kafka.enqueue(record)
                return
            except BufferError:
                log.warning("producer_queue_full_spooling")
                self._spooling = True
        self._spool([record])

    def _spool_undelivered(self, record: SpooledRecord) -> None:
        if not self._spooling:
            log.warning("broker_unavailable_spooling", error="delivery failed")
        self._spooling = True
        self._spool([record])

    def _spool(self, records: list[SpooledRecord]) -> None:
        self.spool.append(records)
        SPOOLED.inc(len(records))
        SPOOL_BYTES.set(self.spool.size_bytes)
        self._wake.set()

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
        self._spool(records)

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
