"""Batched ClickHouse inserts: ``send`` buffers rows per table, ``flush`` writes each table in one INSERT.

Large, infrequent inserts are what MergeTree wants; a failed flush keeps every row for the next attempt.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from clickhouse_connect.driver.client import Client
from prometheus_client import Counter, Histogram

from schemas.warehouse_rows import Row, WarehouseTable

ROWS_INSERTED = Counter("beacon_writer_rows_inserted_total", "Rows inserted into ClickHouse", ["table"])
INSERT_SECONDS = Histogram("beacon_writer_insert_seconds", "Duration of one INSERT", ["table"])


class ClickHouseSink:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._pending: dict[WarehouseTable, list[Row]] = defaultdict(list)

    @property
    def pending_rows(self) -> int:
        return sum(len(rows) for rows in self._pending.values())

    def send(self, table: WarehouseTable, rows: Sequence[Row]) -> None:
        self._pending[table].extend(rows)

    async def flush(self) -> None:
        """Insert every buffered table; rows of a table leave the buffer only once ClickHouse accepted them."""
        for table in list(self._pending):
            rows = self._pending[table]
            if rows:
                with INSERT_SECONDS.labels(table.table).time():
                    await asyncio.to_thread(self._client.insert, table.table, rows, column_names=list(table.columns))
                ROWS_INSERTED.labels(table.table).inc(len(rows))
            del self._pending[table]
