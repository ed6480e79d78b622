"""Sinks: where processed streams leave Kafka (ClickHouse tables)."""
