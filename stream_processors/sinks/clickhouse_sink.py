"""Batched ClickHouse inserts: ``send`` buffers rows per table, ``flush`` writes each table in one INSERT.

Large, infrequent inserts are what MergeTree wants; a failed flush keeps every row for the next attempt.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from clickhouse_connect.driver.client import Client
from prometheus_client import Counter, Histogram

from schemas.warehouse_rows import Row, WarehouseTable, WrittenRows

ROWS_INSERTED = Counter("beacon_writer_rows_inserted_total", "Rows inserted into ClickHouse", ["table"])
REPEATS_SKIPPED = Counter("beacon_writer_repeated_rows_skipped_total", "Rows skipped: already written", ["table"])
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
            if rows and table.written_rows is not None:
                rows = await asyncio.to_thread(self._not_yet_written, table, table.written_rows, rows)
            if rows:
                with INSERT_SECONDS.labels(table.table).time():
                    await asyncio.to_thread(self._client.insert, table.table, rows, column_names=list(table.columns))
                ROWS_INSERTED.labels(table.table).inc(len(rows))
            del self._pending[table]

    def _not_yet_written(self, table: WarehouseTable, written: WrittenRows, rows: list[Row]) -> list[Row]:
        """The rows whose key is neither earlier in the batch nor recorded as written (a re-sent row)."""
        positions = [table.columns.index(column) for column in written.key]
        first = positions[0]
        keys = ", ".join(written.key)
        result = self._client.query(
            f"SELECT {keys} FROM {written.table} WHERE {written.key[0]} IN {{firsts:Array(String)}}",
            parameters={"firsts": sorted({str(row[first]) for row in rows})},
        )
        seen = {tuple(str(value) for value in key) for key in result.result_rows}
        fresh = []
        for row in rows:
            key = tuple(str(row[position]) for position in positions)
            if key in seen:
                REPEATS_SKIPPED.labels(table.table).inc()
                continue
            seen.add(key)
            fresh.append(row)
        return fresh
