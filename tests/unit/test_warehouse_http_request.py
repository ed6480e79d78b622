"""How the warehouse reads a ClickHouse HTTP request: query location, INSERT payloads, settings, parameters."""

from __future__ import annotations

import pytest

from warehouse.errors import WarehouseError
from warehouse.http_request import form_fields, parse_query_request


def test_query_in_url_uses_default_format_when_none_is_given() -> None:
    request = parse_query_request({"query": "SELECT 1", "default_format": "JSONEachRow"}, b"")
    assert request.sql == "SELECT 1"
    assert request.output_format == "JSONEachRow"
    assert request.returns_rows
    assert request.insert is None


def test_trailing_format_clause_wins_over_default_format() -> None:
    request = parse_query_request({"default_format": "CSV"}, b"SELECT 1 AS x\n FORMAT Native")
    assert request.output_format == "Native"


def test_without_any_format_the_answer_is_tab_separated() -> None:
    assert parse_query_request({}, b"SELECT 1").output_format == "TabSeparated"


def test_insert_data_after_format_clause_is_split_off_byte_exact() -> None:
    payload = b"\x02\x01\x01a\x06UInt8\x07\n\x00\xff"
    request = parse_query_request({}, b"INSERT INTO beacon.t (`a`) FORMAT Native\n" + payload)
    assert request.insert is not None
    assert request.insert.target == "INSERT INTO beacon.t (`a`)"
    assert request.insert.format == "Native"
    assert request.insert.data == payload
    assert not request.returns_rows


def test_insert_statement_in_url_takes_the_body_as_its_data() -> None:
    request = parse_query_request({"query": "INSERT INTO t FORMAT JSONEachRow"}, b'{"a":1}\n{"a":2}\n')
    assert request.insert is not None
    assert request.insert.data == b'{"a":1}\n{"a":2}\n'


def test_insert_settings_clause_is_kept_apart_from_the_target() -> None:
    request = parse_query_request({}, b"INSERT INTO t (a) SETTINGS async_insert=0 FORMAT RowBinary\n\x01")
    assert request.insert is not None
    assert request.insert.target == "INSERT INTO t (a)"
    assert request.insert.settings_clause == "async_insert=0"
    assert request.insert.data == b"\x01"


def test_insert_with_values_runs_as_plain_sql() -> None:
    request = parse_query_request({}, b"INSERT INTO t VALUES (1), (2)")
    assert request.insert is None
    assert request.sql == "INSERT INTO t VALUES (1), (2)"
    assert not request.returns_rows


def test_url_parameters_split_into_settings_query_parameters_and_transport() -> None:
    request = parse_query_request(
        {
            "query": "SELECT {n:UInt8}",
            "param_n": "7",
            "max_threads": "1",
            "database": "beacon",
            "session_id": "s1",
            "wait_end_of_query": "1",
            "http_headers_progress_interval_ms": "100",
            "query_id": "q",
        },
        b"",
    )
    assert request.parameters == {"n": "7"}
    assert request.settings == {"max_threads": "1"}
    assert request.database == "beacon"
    assert request.session_id == "s1"


def test_use_and_set_become_session_changes() -> None:
    use = parse_query_request({}, b"USE beacon")
    assert use.session_change is not None
    assert use.session_change.database == "beacon"
    set_ = parse_query_request({}, b"SET max_threads = 2, join_use_nulls = 1")
    assert set_.session_change is not None
    assert set_.session_change.settings == {"max_threads": "2", "join_use_nulls": "1"}


def test_ddl_is_a_command_not_a_row_query() -> None:
    assert not parse_query_request({}, b"-- make it\nCREATE TABLE t (a UInt8) ENGINE = Memory").returns_rows


@pytest.mark.parametrize(("params", "body"), [({}, b""), ({"query": "  "}, b""), ({}, b"\n\t ")])
def test_an_empty_query_is_a_syntax_error(params: dict[str, str], body: bytes) -> None:
    with pytest.raises(WarehouseError) as raised:
        parse_query_request(params, body)
    assert raised.value.code == 62
    assert raised.value.http_status == 400


def test_a_query_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(WarehouseError):
        parse_query_request({}, b"SELECT '\xff'")


def test_form_fields_carry_the_query_and_its_parameters() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\nSELECT {n:UInt8}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="param_n"\r\n\r\n7\r\n'
        b'--b\r\nContent-Disposition: form-data; name="data"; filename="x.csv"\r\n\r\n1,2\r\n--b--\r\n'
    )
    assert form_fields("multipart/form-data; boundary=b", body) == {"query": "SELECT {n:UInt8}", "param_n": "7"}
    with pytest.raises(WarehouseError):
        form_fields("multipart/form-data; boundary=b", b"not multipart")
