"""The warehouse speaks the ClickHouse HTTP interface: the same tests pass against a real ClickHouse server.

Clients: clickhouse-connect (command, query, insert, query_df, parameters) and raw HTTP as curl sends it.
"""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import lz4.frame
import orjson
import pytest
import zstandard
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from runtime.clickhouse import connect_clickhouse
from tests.support.infrastructure import Infrastructure


@pytest.fixture
def table(clickhouse: Client) -> Iterator[str]:
    name = f"beacon.test_{uuid.uuid4().hex[:12]}"
    clickhouse.command(
        f"CREATE TABLE {name} (id UInt64, name String, at DateTime64(3, 'UTC'), tags Map(String, String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    yield name
    clickhouse.command(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def http(infrastructure: Infrastructure) -> Iterator[httpx.Client]:
    url = httpx.URL(infrastructure.clickhouse_url)
    auth = (url.username, url.password) if url.username else None
    with httpx.Client(base_url=url.copy_with(username=None, password=None), auth=auth, timeout=30) as client:
        yield client


def test_ping_and_root_answer_ok(http: httpx.Client) -> None:
    assert http.get("/ping").text == "Ok.\n"
    assert http.get("/").text == "Ok.\n"


def test_clickhouse_connect_command_insert_query_and_dataframe(clickhouse: Client, table: str) -> None:
    at = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
    rows = [(i, f"name-{i}", at, {"k": str(i)}) for i in range(1000)]
    summary = clickhouse.insert(table, rows, column_names=["id", "name", "at", "tags"])
    assert summary.written_rows == 1000
    assert clickhouse.command(f"SELECT count() FROM {table}") == 1000
    result = clickhouse.query(f"SELECT id, name, at, tags FROM {table} WHERE id = 7")
    # clickhouse-connect returns naive datetimes for a UTC column, from real servers too
    assert result.result_rows == [(7, "name-7", at.replace(tzinfo=None), {"k": "7"})]
    frame = clickhouse.query_df(f"SELECT id, name FROM {table} ORDER BY id LIMIT 3")
    assert frame["name"].tolist() == ["name-0", "name-1", "name-2"]


def test_server_side_and_client_side_parameters(clickhouse: Client, table: str) -> None:
    clickhouse.insert(
        table, [(i, f"n{i}", datetime.now(UTC), {}) for i in range(10)], column_names=["id", "name", "at", "tags"]
    )
    server_side = clickhouse.query(f"SELECT count() FROM {table} WHERE id < {{limit:UInt64}}", parameters={"limit": 4})
    assert server_side.result_rows == [(4,)]
    client_side = clickhouse.query(f"SELECT name FROM {table} WHERE name = %(name)s", parameters={"name": "n5"})
    assert client_side.result_rows == [("n5",)]
    # Parameters too long for a URL: clickhouse-connect sends them, and the query, as multipart form fields.
    many = [*range(3, 1003)]
    in_form = clickhouse.query(
        f"SELECT count() FROM {table} WHERE id IN {{ids:Array(UInt64)}}", parameters={"ids": many}
    )
    assert in_form.result_rows == [(7,)]


def test_settings_reach_the_engine_per_query(clickhouse: Client) -> None:
    assert clickhouse.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
    assert clickhouse.command("SELECT getSetting('max_threads')", settings={"max_threads": 3}) == 3


def test_wrong_sql_is_an_error_with_clickhouse_code_and_status(clickhouse: Client, http: httpx.Client) -> None:
    with pytest.raises(DatabaseError, match=r"SYNTAX_ERROR|Syntax error"):
        clickhouse.query("SELEC 1")
    response = http.post("/", content=b"SELECT * FROM beacon.no_such_table")
    assert response.status_code == 404
    assert response.headers["X-ClickHouse-Exception-Code"] == "60"
    assert response.text.startswith("Code: 60.")
    syntax = http.get("/", params={"query": "SELEC 1"})
    assert syntax.status_code == 400
    assert syntax.headers["X-ClickHouse-Exception-Code"] == "62"


@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("JSONEachRow", b'{"x":1,"s":"a"}\n{"x":2,"s":"b"}\n'),
        ("CSV", b'1,"a"\n2,"b"\n'),
        ("TabSeparatedWithNames", b"x\ts\n1\ta\n2\tb\n"),
    ],
)
def test_select_in_any_output_format(http: httpx.Client, output_format: str, expected: bytes) -> None:
    sql = "SELECT number + 1 AS x, ['a', 'b'][number + 1] AS s FROM system.numbers LIMIT 2"
    trailing = http.post("/", content=f"{sql} FORMAT {output_format}".encode())
    assert trailing.content == expected
    assert trailing.headers["X-ClickHouse-Format"] == output_format
    by_default = http.post("/", params={"default_format": output_format}, content=sql.encode())
    assert by_default.content == expected


def test_json_format_and_query_parameters_over_raw_http(http: httpx.Client) -> None:
    response = http.get(
        "/", params={"query": "SELECT {a:UInt8} + {b:UInt8} AS sum FORMAT JSON", "param_a": "2", "param_b": "3"}
    )
    assert response.headers["content-type"].startswith("application/json")
    assert orjson.loads(response.content)["data"] == [{"sum": 5}]


def test_insert_json_each_row_in_body_and_in_url(http: httpx.Client, clickhouse: Client, table: str) -> None:
    lines = (
        b'{"id": 1, "name": "a", "at": "2026-01-01 00:00:00"}\n{"id": 2, "name": "b", "at": "2026-01-01 00:00:01"}\n'
    )
    assert (
        http.post("/", content=f"INSERT INTO {table} (id, name, at) FORMAT JSONEachRow\n".encode() + lines).status_code
        == 200
    )
    in_url = http.post("/", params={"query": f"INSERT INTO {table} (id, name, at) FORMAT JSONEachRow"}, content=lines)
    assert in_url.status_code == 200
    assert clickhouse.command(f"SELECT count() FROM {table}") == 4


def test_insert_chunked_native_and_row_binary(http: httpx.Client, clickhouse: Client, table: str) -> None:
    source = "SELECT number AS id, toString(number) AS name FROM system.numbers LIMIT 5000"
    native = http.post("/", content=f"{source} FORMAT Native".encode()).content
    row_binary = http.post("/", content=f"{source} FORMAT RowBinary".encode()).content

    def chunks(data: bytes) -> Iterator[bytes]:  # an iterator body is sent with Transfer-Encoding: chunked
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    head = f"INSERT INTO {table} (id, name) FORMAT Native\n".encode()
    assert http.post("/", content=chunks(head + native)).status_code == 200
    assert (
        http.post(
            "/", params={"query": f"INSERT INTO {table} (id, name) FORMAT RowBinary"}, content=chunks(row_binary)
        ).status_code
        == 200
    )
    assert clickhouse.query(f"SELECT count(), sum(id) FROM {table}").result_rows == [(10000, 2 * sum(range(5000)))]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("zstd", zstandard.ZstdCompressor().compress), ("lz4", lz4.frame.compress)],
)
def test_compressed_request_bodies(
    http: httpx.Client, clickhouse: Client, table: str, encoding: str, compress: object
) -> None:
    body = f"INSERT INTO {table} (id, name) FORMAT JSONEachRow\n".encode() + b'{"id": 9, "name": "z"}\n'
    response = http.post("/", content=compress(body), headers={"Content-Encoding": encoding})  # type: ignore[operator]
    assert response.status_code == 200, response.text
    assert clickhouse.command(f"SELECT name FROM {table} WHERE id = 9") == "z"


def test_an_unknown_content_encoding_is_refused_clearly(http: httpx.Client) -> None:
    response = http.post("/", content=b"SELECT 1", headers={"Content-Encoding": "snappy-ish"})
    assert response.status_code >= 400
    assert "Content-Encoding" in response.text or "compression" in response.text.lower()
    assert "X-ClickHouse-Exception-Code" in response.headers


def test_compressed_responses_when_asked(http: httpx.Client) -> None:
    response = http.post(
        "/",
        params={"enable_http_compression": "1"},
        content=b"SELECT number FROM system.numbers LIMIT 1000 FORMAT CSV",
        headers={"Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.splitlines()[-1] == "999"  # httpx decompressed it


def test_database_parameter_and_session_use(http: httpx.Client, infrastructure: Infrastructure, table: str) -> None:
    short_name = table.split(".", 1)[1]
    assert http.post("/", params={"database": "beacon"}, content=f"EXISTS TABLE {short_name}".encode()).text == "1\n"
    session = {"session_id": uuid.uuid4().hex}
    assert http.post("/", params=session, content=b"USE beacon").status_code == 200
    assert http.post("/", params=session, content=b"SELECT currentDatabase()").text == "beacon\n"
    assert http.post("/", content=b"SELECT currentDatabase()").text == "default\n"  # no session, no USE
    client = connect_clickhouse(infrastructure.clickhouse_url)
    assert client.command("SELECT currentDatabase()") == "default"


def test_concurrent_clients_mixing_inserts_and_selects_get_exact_results(
    infrastructure: Infrastructure, table: str
) -> None:
    failures: list[BaseException] = []

    def insert_batches(worker: int) -> None:
        client = connect_clickhouse(infrastructure.clickhouse_url)
        try:
            for batch in range(10):
                base = (worker * 10 + batch) * 100
                client.insert(
                    table,
                    [(base + i, "x", datetime.now(UTC), {}) for i in range(100)],
                    column_names=["id", "name", "at", "tags"],
                )
        except BaseException as error:  # collected and asserted below
            failures.append(error)

    def select_repeatedly() -> None:
        client = connect_clickhouse(infrastructure.clickhouse_url)
        try:
            for _ in range(20):
                client.query(f"SELECT count(), max(id) FROM {table}", settings={"max_threads": 1})
                client.command(f"SELECT uniqExact(id) FROM {table}")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=insert_batches, args=(worker,)) for worker in range(4)]
    threads += [threading.Thread(target=select_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    client = connect_clickhouse(infrastructure.clickhouse_url)
    assert client.query(f"SELECT count(), uniqExact(id), min(id), max(id) FROM {table}").result_rows == [
        (4000, 4000, 0, 3999)
    ]


def test_a_large_compressed_insert_of_many_blocks_arrives_whole(clickhouse: Client, table: str) -> None:
    """clickhouse-connect compresses each block as its own frame; every frame must be inserted."""
    rows = [(i, "n", datetime(2026, 1, 1, tzinfo=UTC), {}) for i in range(100_000)]
    summary = clickhouse.insert(table, rows, column_names=["id", "name", "at", "tags"])
    assert summary.written_rows == 100_000
    assert clickhouse.query(f"SELECT count(), sum(id) FROM {table}").result_rows == [(100_000, sum(range(100_000)))]


def test_curl_select_insert_and_error(infrastructure: Infrastructure, table: str) -> None:
    """The plain curl commands an analyst would type (the README's tour uses them)."""
    import subprocess

    url = infrastructure.clickhouse_url

    def curl(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["curl", "-sS", "-w", "\n%{http_code}", *arguments], capture_output=True, text=True, timeout=30
        )

    inserted = curl(
        "--data-binary",
        '{"id": 42, "name": "curl"}',
        f"{url}/?query=INSERT%20INTO%20{table}%20(id,%20name)%20FORMAT%20JSONEachRow",
    )
    assert inserted.stdout.endswith("200"), inserted
    selected = curl(f"{url}/?query=SELECT%20name%20FROM%20{table}%20WHERE%20id%20=%2042%20FORMAT%20JSONEachRow")
    assert selected.stdout == '{"name":"curl"}\n\n200'
    posted = curl("--data-binary", f"SELECT count() FROM {table}", url)
    assert posted.stdout == "1\n\n200"
    failed = curl("--data-binary", "SELECT no_such_column FROM system.one", url)
    assert failed.stdout.startswith("Code: 47.")
    assert failed.stdout.endswith("404")


def test_concurrent_queries_with_different_parameters_each_see_their_own(infrastructure: Infrastructure) -> None:
    """chDB binds parameters on its session, and every query re-binds them (to none, for a plain query): the
    warehouse must not run a parameterized query alongside any other."""

    def ask(number: int) -> int:
        client = connect_clickhouse(infrastructure.clickhouse_url)
        if number % 2:  # a plain query in between, as the writer's INSERTs are
            return int(client.query("SELECT count() FROM numbers(200000)").result_rows[0][0]) - 200000 + number
        name = f"p{number % 3}"
        query = f"SELECT {{{name}:UInt32}} + sleepEachRow(0.001) FROM numbers(5) LIMIT 1"
        return int(client.query(query, parameters={name: number}).result_rows[0][0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ask, range(96))) == list(range(96))
