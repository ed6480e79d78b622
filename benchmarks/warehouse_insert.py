"""Warehouse insert throughput: the embedded ClickHouse HTTP front vs. chDB called directly, in one run.

The same Native-encoded batch of event rows is inserted, rounds alternating between the two paths:
- direct: chDB in this process (``send_insert``, the engine's fastest way in, no HTTP, no file);
- http:   POST to the embedded warehouse, exactly the request clickhouse-connect sends after encoding;
- client: clickhouse-connect ``insert`` of Python rows (adds the client's own encoding; for reference).

    .venv/bin/python -m benchmarks.warehouse_insert --rows 500000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from chdb import session as chdb_session

from runtime.clickhouse import connect_clickhouse
from stack.ephemeral import ephemeral_services

COLUMNS = "event_id, site_id, event_name, event_time, anonymous_id, url, properties"
DDL = """CREATE TABLE IF NOT EXISTS bench.{name} (
    event_id UUID, site_id LowCardinality(String), event_name LowCardinality(String),
    event_time DateTime64(3, 'UTC'), anonymous_id String, url String, properties Map(String, String)
) ENGINE = MergeTree ORDER BY (site_id, toDate(event_time), event_id)"""
ROWS_SQL = """SELECT generateUUIDv4() AS event_id, concat('site-', toString(number % 10)) AS site_id,
    ['page_view', 'click', 'purchase'][number % 3 + 1] AS event_name,
    toDateTime64('2026-11-01 00:00:00', 3, 'UTC') + number / 1000 AS event_time,
    concat('visitor-', toString(number % 50000)) AS anonymous_id,
    concat('https://shop.example/products/', toString(number % 2000)) AS url,
    map('plan', 'pro', 'n', toString(number)) AS properties
FROM numbers({rows}) FORMAT Native"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="beacon-bench-chdb-") as directory,
        tempfile.TemporaryDirectory(prefix="beacon-bench-services-") as home,
        ephemeral_services(Path(home)) as services,
    ):
        direct = chdb_session.Session(directory)
        direct.query("CREATE DATABASE IF NOT EXISTS bench")
        direct.query(DDL.format(name="direct"))
        native = direct.query(ROWS_SQL.format(rows=arguments.rows), "Native").bytes()
        client = connect_clickhouse(services.clickhouse_address)
        client.command("CREATE DATABASE IF NOT EXISTS bench")
        client.command(DDL.format(name="http"))
        client.command(DDL.format(name="client"))
        python_rows = [
            (
                row_id,
                f"site-{n % 10}",
                "page_view",
                datetime(2026, 11, 1, tzinfo=UTC),
                f"v-{n}",
                "https://s.example/",
                {},
            )
            for n, row_id in enumerate(uuid.uuid4() for _ in range(arguments.rows))
        ]
        http = httpx.Client(base_url=services.clickhouse_address, timeout=300)
        http_body = f"INSERT INTO bench.http ({COLUMNS}) FORMAT Native\n".encode() + native
        print(
            f"batch: {arguments.rows} rows, {len(native) / 1e6:.1f} MB Native; {arguments.rounds} rounds, alternating"
        )

        direct_rates, http_rates, client_rates = [], [], []
        for round_number in range(1, arguments.rounds + 1):
            started = time.perf_counter()
            with direct.send_insert(f"INSERT INTO bench.direct ({COLUMNS})", "Native") as inserter:
                inserter.append(native)
                inserter.finish()
            direct_rates.append(arguments.rows / (time.perf_counter() - started))

            started = time.perf_counter()
            response = http.post("/", content=http_body)
            response.raise_for_status()
            http_rates.append(arguments.rows / (time.perf_counter() - started))

            started = time.perf_counter()
            client.insert("bench.client", python_rows, column_names=[c.strip() for c in COLUMNS.split(",")])
            client_rates.append(arguments.rows / (time.perf_counter() - started))
            print(
                f"round {round_number}: direct {direct_rates[-1]:>12,.0f} rows/s   http {http_rates[-1]:>12,.0f} rows/s"
                f"   clickhouse-connect {client_rates[-1]:>12,.0f} rows/s",
                flush=True,
            )

        ratios = [h / d for h, d in zip(http_rates, direct_rates, strict=True)]
        print("\nmedian over rounds")
        print(f"  direct chDB (send_insert)          {statistics.median(direct_rates):>12,.0f} rows/s")
        print(f"  HTTP front (Native POST)           {statistics.median(http_rates):>12,.0f} rows/s")
        print(f"  clickhouse-connect insert (rows)   {statistics.median(client_rates):>12,.0f} rows/s")
        print(f"  ratio HTTP / direct                {statistics.median(ratios):>12.2f}   (goal >= 0.5)")
        counts = [client.command(f"SELECT count() FROM bench.{name}") for name in ("http", "client")]
        assert counts == [arguments.rows * arguments.rounds] * 2, counts
        direct.close()


if __name__ == "__main__":
    main()
