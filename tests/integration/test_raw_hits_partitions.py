"""``raw_hits_partition`` is where librdkafka's default partitioner put raw hits before the collector named
partitions itself, on a real broker: visitors whose state the stream worker already holds keep their partition."""

from __future__ import annotations

import random
import uuid

from confluent_kafka import KafkaError, Message, Producer

from runtime.kafka_topics import ensure_topics
from schemas.topics import RAW_HITS, TopicSpec, raw_hits_partition
from tests.support.infrastructure import Infrastructure


async def test_raw_hits_stay_where_librdkafka_placed_them(infrastructure: Infrastructure) -> None:
    topic = TopicSpec(f"beacon.test.raw-hits-{uuid.uuid4().hex[:8]}", RAW_HITS.partitions, 3_600_000, "test")
    await ensure_topics(infrastructure.kafka_bootstrap, [topic])
    generator = random.Random(11)
    keys = [f"site-{number % 5}:{uuid.UUID(int=generator.getrandbits(128), version=4)}" for number in range(2_000)]
    placed: dict[bytes, int | None] = {}

    def report(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        placed[message.key() or b""] = message.partition()

    # The collector's producer as it was: no partition named, librdkafka's default partitioner.
    producer = Producer({"bootstrap.servers": infrastructure.kafka_bootstrap, "enable.idempotence": True})
    for key in keys:
        producer.produce(topic.name, b"{}", key=key.encode(), on_delivery=report)
    assert producer.flush(30) == 0

    assert len(placed) == len(keys)
    assert placed == {key: raw_hits_partition(key) for key in placed}
