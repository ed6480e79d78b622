"""The embedded warehouse: one process owns a chDB data directory and serves the ClickHouse HTTP interface.

Only for machines without a ClickHouse server. Every other module talks to it with clickhouse-connect at a
URL, exactly as to a real server, and must never learn the difference.
"""
