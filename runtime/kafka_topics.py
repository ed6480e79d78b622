"""Create Beacon's Kafka topics (declared in ``schemas.topics``) explicitly, before anything produces.

Brokers that auto-create topics give them one partition and default retention; we never rely on that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from schemas.topics import TopicSpec

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


@dataclass(frozen=True)
class TopicReport:
    name: str
    partitions: int
    created: bool


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, connect_timeout_seconds: float = 30, replication_factor: int = 1
) -> list[TopicReport]:
    """Create missing topics with their declared partitions and configs; grow partition counts that are short.

    Existing topics keep their data; a topic never loses partitions (Kafka cannot shrink them).
    """
    admin = await _connected_admin(bootstrap, connect_timeout_seconds)
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    topic_configs=spec.topic_configs(),
                )
                for spec in specs
            ]
        )
        created = {name for name, code, *_ in response.topic_errors if code == 0}
        failures = [
            f"{name}: {message or code}"
            for name, code, *rest in response.topic_errors
            for message in (rest[0] if rest else None,)
            if code not in (0, _TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise RuntimeError("cannot create topics: " + "; ".join(failures))
        partitions = await _partition_counts(admin, [spec.name for spec in specs])
        short = {spec.name: spec.partitions for spec in specs if partitions[spec.name] < spec.partitions}
        if short:
            await admin.create_partitions({name: NewPartitions(total) for name, total in short.items()})
            partitions.update(short)
        return [TopicReport(spec.name, partitions[spec.name], spec.name in created) for spec in specs]
    finally:
        await admin.close()


async def _connected_admin(bootstrap: str, timeout_seconds: float) -> AIOKafkaAdminClient:
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(names)
    return {topic["topic"]: len(topic["partitions"]) for topic in described}
