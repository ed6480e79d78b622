"""The warehouse writer against the real broker and warehouse: batches land once, poison goes to dead letters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from schemas.events import Event, HitSource
from schemas.topics import EVENTS
from stream_processors.settings import WarehouseWriterSettings
from stream_processors.sinks.warehouse_writer import WarehouseWriter
from tests.support.infrastructure import Infrastructure
from tests.support.polling import wait_for


def make_event(site_id: str, number: int) -> Event:
    return Event(
        event_id=uuid.uuid4(),
        site_id=site_id,
        event_name="page_view",
        event_time=datetime(2026, 11, 23, 12, 0, number % 60, tzinfo=UTC),
        received_at=datetime(2026, 11, 23, 12, 0, 59, tzinfo=UTC),
        anonymous_id=f"visitor-{number % 7}",
        user_id="",
        url=f"https://writer.example/page/{number}",
        referrer="",
        user_agent="test",
        ip="198.51.100.0",
        properties={"n": str(number)},
        source=HitSource.PIXEL,
    )


async def test_events_are_written_once_even_when_delivered_twice(
    infrastructure: Infrastructure, clickhouse: Client
) -> None:
    site_id = f"writer-{uuid.uuid4().hex[:8]}"
    events = [make_event(site_id, number) for number in range(300)]
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in [*events, *events[:100]]:  # the first 100 re-delivered, as after a rebalance
            await producer.send(EVENTS.name, event.model_dump_json().encode(), key=event.partition_key())
        await producer.send_and_wait(EVENTS.name, b'{"event_id": "not even close"}', key=site_id.encode())
    finally:
        await producer.stop()

    settings = WarehouseWriterSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        clickhouse_url=infrastructure.clickhouse_url,
        writer_group_id=f"test-writer-{uuid.uuid4().hex[:8]}",
        writer_batch_rows=128,
        writer_flush_interval_seconds=0.2,
    )
    writer = WarehouseWriter(settings)
    running = asyncio.create_task(writer.run())
    try:
        await wait_for(
            lambda: (
                clickhouse.command(
                    "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String}", parameters={"s": site_id}
                )
                == 300
            ),
            what="300 events in beacon.events",
        )
        await wait_for(
            lambda: (
                clickhouse.command(
                    "SELECT count() FROM beacon.dead_letters"
                    " WHERE stage = 'warehouse_writer' AND payload LIKE '%not even close%'"
                )
                >= 1
            ),
            what="the poison record in beacon.dead_letters",
        )
    finally:
        writer.stop()
        await running
    stored = clickhouse.query(
        "SELECT uniqExact(event_id), sum(toUInt32(properties['n']))"
        " FROM beacon.events FINAL WHERE site_id = {s:String}",
        parameters={"s": site_id},
    ).result_rows
    assert stored == [(300, sum(range(300)))]
