"""The warehouse writer: consumes the event and dead-letter topics and writes them to ClickHouse in batches.

Offsets are committed only after the rows are in ClickHouse, so a crash or ClickHouse outage re-delivers
rather than loses; re-delivered rows collapse in the ReplacingMergeTree tables (their keys end in the id).
While ClickHouse is down the writer stops consuming and retries with backoff: memory stays bounded by one batch.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime

import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from runtime.clickhouse import connect_clickhouse
from runtime.logging import configure_logging
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from runtime.settings import load_settings
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.topics import DEAD_LETTERS
from schemas.warehouse_rows import WAREHOUSE_TABLES, WarehouseTable
from stream_processors.fetch_pacing import pace_empty_fetches
from stream_processors.settings import WarehouseWriterSettings
from stream_processors.sinks.clickhouse_sink import ClickHouseSink

FLUSH_FAILURES = Counter("beacon_writer_flush_failures_total", "Failed attempts to write a batch")
COMMIT_FAILURES = Counter("beacon_writer_commit_failures_total", "Offset commits refused (rebalance, broker away)")
UNWRITABLE = Counter("beacon_writer_unwritable_records_total", "Records that could not become rows")
LAST_FLUSH = Gauge("beacon_writer_last_flush_timestamp_seconds", "When a batch was last written")

log = structlog.get_logger("warehouse_writer")


class WarehouseWriter:
    def __init__(self, settings: WarehouseWriterSettings, tables: tuple[WarehouseTable, ...] = WAREHOUSE_TABLES):
        self._settings = settings
        self._tables = {table.topic: table for table in tables}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.writer_group_id,
            group_instance_id=settings.group_instance_id(),  # a restarted writer takes its partitions back at once
            enable_auto_commit=False,  # offsets move only after the rows are stored
            auto_offset_reset="earliest",
            max_poll_interval_ms=15 * 60 * 1000,  # room for retries while ClickHouse is away
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        self._sink = ClickHouseSink(connect_clickhouse(settings.clickhouse_url))
        self._consumed: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._batch_started = time.monotonic()
        self._stopping = asyncio.Event()
        self.healthy = False

    async def run(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe(list(self._tables), listener=_FlushBeforeRevoke(self))
        self.healthy = True
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=200, max_records=self._settings.writer_batch_rows)
                for partition, records in batches.items():
                    await self._buffer(partition, records)
                if self._batch_due():
                    await self.flush_and_commit()
            await self.flush_and_commit()
        finally:
            self.healthy = False
            await self._consumer.stop()
            await self._producer.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def flush_and_commit(self) -> None:
        """Write the buffered rows (retrying with backoff until ClickHouse takes them), then commit."""
        backoff = 0.5
        while True:
            try:
                await self._sink.flush()
                break
            except Exception as error:  # any failure of ClickHouse or the network: keep the rows, retry
                FLUSH_FAILURES.inc()
                log.warning("flush_failed", error=str(error), retry_in_seconds=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._settings.writer_max_retry_backoff_seconds)
        if self._consumed:
            try:
                await self._consumer.commit(dict(self._consumed))
            except KafkaError as error:
                # The group rebalanced (e.g. the broker was away): the rows are stored, and whoever owns the
                # partitions now re-reads them from the last commit; the tables absorb the repeat.
                COMMIT_FAILURES.inc()
                log.warning("commit_failed_rows_will_be_redelivered", error=str(error)[:300])
            self._consumed.clear()
        self._batch_started = time.monotonic()
        LAST_FLUSH.set_to_current_time()

    async def _buffer(self, partition: TopicPartition, records: list) -> None:  # type: ignore[type-arg]
        table = self._tables[partition.topic]
        rows = []
        for record in records:
            try:
                rows.append(table.row_from_json(record.value))
            except Exception as error:  # a record that cannot be a row goes to dead letters, not on a loop
                await self._reject(table, record.value, error)
        self._sink.send(table, rows)
        self._consumed[partition] = records[-1].offset + 1

    async def _reject(self, table: WarehouseTable, payload: bytes, error: Exception) -> None:
        UNWRITABLE.inc()
        log.error("unwritable_record", topic=table.topic, error=str(error)[:500])
        if table.topic == DEAD_LETTERS.name:
            return  # a dead letter that cannot be stored is logged above; re-queueing it would loop forever
        letter = DeadLetter.of_unreadable_payload(
            Stage.WAREHOUSE_WRITER,
            DropReason.UNWRITABLE_ROW,
            f"{table.table}: {str(error)[:1000]}",
            payload,
            datetime.now(UTC),
        )
        backoff = 0.5
        while True:  # its offset is committed after this, so the dead letter must be on the broker first
            try:
                await self._producer.send_and_wait(DEAD_LETTERS.name, letter.model_dump_json().encode())
                return
            except KafkaError as error:
                log.warning("dead_letter_not_sent", error=str(error)[:300], retry_in_seconds=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._settings.writer_max_retry_backoff_seconds)

    def _batch_due(self) -> bool:
        if self._sink.pending_rows >= self._settings.writer_batch_rows:
            return True
        elapsed = time.monotonic() - self._batch_started
        return bool(self._consumed) and elapsed >= self._settings.writer_flush_interval_seconds


class _FlushBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Store and commit what was read before partitions move to another writer (no double writes)."""

    def __init__(self, writer: WarehouseWriter) -> None:
        self._writer = writer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._writer.flush_and_commit()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


async def serve(settings: WarehouseWriterSettings) -> None:
    writer = WarehouseWriter(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, writer.stop)

    async def health(_: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok" if writer.healthy else "starting"}, status=200 if writer.healthy else 503
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    web_app = web.Application()
    web_app.router.add_get("/health", health)
    web_app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.writer_host, settings.writer_port).start()
    try:
        await writer.run()
    finally:
        await runner.cleanup()


def main() -> None:
    settings = load_settings(WarehouseWriterSettings)
    configure_logging("warehouse-writer")
    pace_empty_fetches()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
