"""Reading a whole Kafka topic as it is now, for assertions about what the stream wrote."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import TopicSpec


def topic_values(bootstrap: str, topic: TopicSpec) -> list[bytes]:
    """Every record value of ``topic`` from its start to its current end, partition by partition."""

    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic.name, number) for number in range(topic.partitions)]
            ends = await consumer.end_offsets(partitions)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            values: list[bytes] = []
            for partition, end in ends.items():
                while await consumer.position(partition) < end:
                    batch = await consumer.getmany(partition, timeout_ms=1000)
                    values.extend(record.value or b"" for record in batch.get(partition, []))
            return values
        finally:
            await consumer.stop()

    return asyncio.run(read())
