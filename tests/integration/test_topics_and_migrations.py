"""Provisioning against the real broker and warehouse: topics as declared, migrations applied once."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from clickhouse_connect.driver.client import Client

from runtime.kafka_topics import ensure_topics
from schemas.topics import ALL_TOPICS, TopicSpec
from stack.migrations import Migration, MigrationError, apply_migrations, load_migrations
from tests.support.infrastructure import Infrastructure


async def test_declared_topics_exist_with_their_partitions_and_retention(infrastructure: Infrastructure) -> None:
    reports = await ensure_topics(infrastructure.kafka_bootstrap, ALL_TOPICS)
    assert {(report.name, report.partitions) for report in reports} == {
        (spec.name, spec.partitions) for spec in ALL_TOPICS
    }
    assert not any(report.created for report in reports), "the stack created them already; a rerun changes nothing"
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, ALL_TOPICS[0].name)])
        configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
        assert configs["retention.ms"] == str(ALL_TOPICS[0].retention_ms)
    finally:
        await admin.close()


async def test_a_new_topic_is_created_and_a_short_one_grows(infrastructure: Infrastructure) -> None:
    name = f"beacon.test.{uuid.uuid4().hex[:8]}"
    first = await ensure_topics(infrastructure.kafka_bootstrap, [TopicSpec(name, 2, 3_600_000, "test")])
    assert (first[0].created, first[0].partitions) == (True, 2)
    grown = await ensure_topics(infrastructure.kafka_bootstrap, [TopicSpec(name, 4, 3_600_000, "test")])
    assert (grown[0].created, grown[0].partitions) == (False, 4)


def test_migrations_are_recorded_and_never_applied_twice(clickhouse: Client) -> None:
    assert apply_migrations(clickhouse, load_migrations()) == []
    versions = clickhouse.query("SELECT version FROM beacon.schema_migrations ORDER BY version").result_rows
    assert [version for (version,) in versions] == [migration.version for migration in load_migrations()]


def test_an_edited_applied_migration_is_refused(clickhouse: Client) -> None:
    edited = [*load_migrations()]
    edited[0] = Migration(edited[0].version, edited[0].name, edited[0].sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="append-only"):
        apply_migrations(clickhouse, edited)


def test_migrated_tables_have_the_columns_the_writer_sends(clickhouse: Client) -> None:
    from schemas.warehouse_rows import WAREHOUSE_TABLES

    for table in WAREHOUSE_TABLES:
        database, name = table.table.split(".")
        columns = clickhouse.query(
            "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String}",
            parameters={"d": database, "t": name},
        ).result_rows
        assert set(table.columns) <= {column for (column,) in columns}
