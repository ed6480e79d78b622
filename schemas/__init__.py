"""Contracts between Beacon's parts: event types, dead letters, Kafka topics, ClickHouse tables and DDL."""
