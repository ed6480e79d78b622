"""How the stream worker's agents hand records to Kafka: faust's producer, each delivery watched for failure.

The futures returned are the records' deliveries, which a state change waits for before it reaches its
changelog (``state_changelog.py``).
"""

from __future__ import annotations

import asyncio
from typing import cast

import structlog
from prometheus_client import Counter
from pydantic import BaseModel

from stream_processors.app import app
from stream_processors.state_changelog import Delivery

FORWARD_FAILURES = Counter("beacon_stream_forward_failures_total", "Records the broker did not accept")

log = structlog.get_logger("stream")


async def send_model(topic: str, key: bytes, record: BaseModel, partition: int | None = None) -> Delivery:
    return await send_bytes(topic, key, record.model_dump_json().encode(), partition)


async def send_bytes(topic: str, key: bytes, value: bytes | None, partition: int | None) -> Delivery:
    delivery = cast(
        Delivery,
        await app.producer.send(topic, key=key, value=value, partition=partition, timestamp=None, headers=None),
    )
    delivery.add_done_callback(_count_failure)
    return delivery


def _count_failure(delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        FORWARD_FAILURES.inc()
        log.error("forward_failed", error=str(delivery.exception()))
