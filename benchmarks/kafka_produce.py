"""Bare aiokafka produce loop to the embedded broker: the baseline that later end-to-end ratios divide by.

acks=all, idempotent producer, 176-byte messages, one process; rounds reported and their median.

    .venv/bin/python -m benchmarks.kafka_produce --messages 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from runtime.kafka_topics import ensure_topics
from schemas.topics import TopicSpec
from stack.ephemeral import ephemeral_services

MESSAGE_BYTES = 176


async def produce(bootstrap: str, topic: str, messages: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    payload = b"x" * MESSAGE_BYTES
    try:
        started = time.perf_counter()
        for number in range(messages):
            await producer.send(topic, payload, key=str(number % 1000).encode())
        await producer.flush()
        return messages / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def run(bootstrap: str, messages: int, rounds: int) -> None:
    topic = TopicSpec("bench.produce", partitions=8, retention_ms=3_600_000, description="benchmark")
    await ensure_topics(bootstrap, [topic])
    print(f"{messages} messages of {MESSAGE_BYTES} bytes per round, acks=all, idempotent, 8 partitions")
    rates = []
    for round_number in range(1, rounds + 1):
        rates.append(await produce(bootstrap, topic.name, messages))
        print(f"round {round_number}: {rates[-1]:>10,.0f} msg/s", flush=True)
    print(f"\nmedian: {statistics.median(rates):,.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as home, ephemeral_services(Path(home)) as services:
        asyncio.run(run(services.kafka_address, arguments.messages, arguments.rounds))


if __name__ == "__main__":
    main()
