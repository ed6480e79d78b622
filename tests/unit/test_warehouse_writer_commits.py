"""The writer survives a refused offset commit (the group rebalanced while the broker was away)."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from stream_processors.settings import WarehouseWriterSettings
from stream_processors.sinks.warehouse_writer import WarehouseWriter


class RefusingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)
        raise CommitFailedError("the group has already rebalanced")


class StoringSink:
    pending_rows = 0

    async def flush(self) -> None:
        return None


async def test_a_refused_commit_is_logged_and_the_writer_goes_on() -> None:
    writer = WarehouseWriter.__new__(WarehouseWriter)  # only the state flush_and_commit touches
    consumer = RefusingConsumer()
    writer._settings = WarehouseWriterSettings()
    writer._sink = StoringSink()  # type: ignore[assignment]
    writer._consumer = consumer  # type: ignore[assignment]
    offsets: dict[TopicPartition, Any] = {TopicPartition("beacon.events", 0): 42}
    writer._consumed = dict(offsets)
    await writer.flush_and_commit()
    assert consumer.commits == [offsets]
    assert writer._consumed == {}, "the partitions' new owner re-reads them; nothing is kept twice here"
