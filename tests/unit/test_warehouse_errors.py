"""Errors look like ClickHouse's: the exception code from the message, the status ClickHouse would send."""

from __future__ import annotations

import chdb
import pytest

from warehouse.errors import _STATUS_BY_CODE, WarehouseError, error_from_engine


def test_code_is_read_from_the_engine_message() -> None:
    error = error_from_engine(RuntimeError("Code: 60. DB::Exception: Unknown table expression identifier"))
    assert error.code == 60
    assert error.http_status == 404
    assert error.response_text().startswith("Code: 60. DB::Exception")


def test_a_message_without_a_code_is_an_unknown_exception_and_a_500() -> None:
    error = error_from_engine(RuntimeError("segfault-ish"))
    assert error.code == 1002
    assert error.http_status == 500
    assert error.response_text() == "Code: 1002. DB::Exception: segfault-ish\n"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("SYNTAX_ERROR", 400),
        ("CANNOT_PARSE_TEXT", 400),
        ("TYPE_MISMATCH", 400),
        ("UNKNOWN_TABLE", 404),
        ("UNKNOWN_DATABASE", 404),
        ("UNKNOWN_SETTING", 404),
        ("UNKNOWN_IDENTIFIER", 404),
        ("REQUIRED_PASSWORD", 401),
        ("AUTHENTICATION_FAILED", 403),
        ("QUERY_IS_TOO_LARGE", 413),
        ("NOT_IMPLEMENTED", 501),
        ("TIMEOUT_EXCEEDED", 408),
    ],
)
def test_status_map_uses_the_engines_own_error_codes(name: str, status: int) -> None:
    """The numbers in the map are checked against the engine's names, so a typo cannot hide."""
    query = f"SELECT number FROM numbers(2000) WHERE errorCodeToName(number) = '{name}'"
    code = int(chdb.query(query, "TabSeparated").bytes())
    assert _STATUS_BY_CODE[code] == status
    assert WarehouseError(code, "x").http_status == status


def test_every_mapped_code_is_a_real_clickhouse_error_code() -> None:
    codes = ",".join(str(code) for code in _STATUS_BY_CODE)
    unknown = chdb.query(f"SELECT arrayFilter(c -> errorCodeToName(c) = '', [{codes}])", "TabSeparated").bytes()
    assert unknown.strip() == b"[]"
