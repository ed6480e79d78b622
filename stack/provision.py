"""Provision real servers: create the Kafka topics and apply the ClickHouse migrations, then exit.

``python -m stack.provision`` is what docker-compose and Kubernetes run before Beacon's processes start;
``./beacon up`` does the same steps itself.
"""

from __future__ import annotations

import asyncio

from runtime.clickhouse import connect_clickhouse
from runtime.kafka_topics import TopicReport, ensure_topics
from runtime.logging import configure_logging
from runtime.settings import ClickHouseSettings, KafkaSettings, load_settings
from schemas.topics import ALL_TOPICS
from stack.migrations import Migration, apply_migrations, load_migrations


class ProvisionSettings(KafkaSettings, ClickHouseSettings):
    pass


def provision_topics(kafka_bootstrap: str, replication_factor: int = 1) -> list[TopicReport]:
    """Every topic of ``schemas.topics`` exists with its declared partitions and configs."""
    return asyncio.run(ensure_topics(kafka_bootstrap, ALL_TOPICS, replication_factor=replication_factor))


def provision_warehouse(clickhouse_url: str) -> list[Migration]:
    """The warehouse schema is current; returns the migrations applied now."""
    return apply_migrations(connect_clickhouse(clickhouse_url), load_migrations())


def main() -> None:
    settings = load_settings(ProvisionSettings)
    log = configure_logging("provision")
    for report in provision_topics(settings.kafka_bootstrap, settings.kafka_replication_factor):
        log.info("topic_ready", topic=report.name, partitions=report.partitions, created=report.created)
    applied = provision_warehouse(settings.clickhouse_url)
    log.info("migrations_applied", versions=[migration.version for migration in applied])


if __name__ == "__main__":
    main()
