"""Parse a ClickHouse HTTP request (URL parameters + body) into what the engine must run. Pure, no I/O.

The rules follow ClickHouse's HTTP interface: the query comes from ``?query=`` and/or the body (the body is
appended to the URL query); an INSERT's data follows its ``FORMAT <name>`` clause; ``param_<name>`` values
fill ``{name:Type}`` placeholders; every other unknown parameter is a query-level setting. A
``multipart/form-data`` body carries the query and its parameters as form fields instead (clickhouse-connect
sends them so once they are too long for a URL).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from warehouse.errors import SYNTAX_ERROR, WarehouseError

# Parameters that configure the HTTP exchange itself, not the query (ClickHouse's HTTPHandler reserves them).
TRANSPORT_PARAMETERS = frozenset(
    {
        "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
        "compress", "decompress", "enable_http_compression", "buffer_size", "wait_end_of_query",
        "send_progress_in_http_headers", "http_headers_progress_interval_ms", "user", "password",
        "quota_key", "role", "client_protocol_version", "stacktrace", "max_query_size",
    }
)  # fmt: skip
PARAMETER_PREFIX = "param_"
_HTTP_SETTING_PREFIX = "http_"  # http_* settings tune the server's HTTP layer, which is ours here.

_INSERT_WITH_FORMAT = re.compile(
    rb"\A\s*(?P<head>INSERT\s+INTO\s+.*?)\s+FORMAT\s+(?P<format>[A-Za-z0-9_]+)(?P<sep>[ \t]*\r?\n|[ \t]+|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_SETTINGS_CLAUSE = re.compile(r"\A(?P<target>.*?)\s+SETTINGS\s+(?P<settings>.+)\Z", re.IGNORECASE | re.DOTALL)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(?P<format>[A-Za-z0-9_]+)\s*;?\s*\Z", re.IGNORECASE)
_LEADING_KEYWORD = re.compile(r"\A\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(?P<word>[A-Za-z]+)", re.DOTALL)
_USE_STATEMENT = re.compile(r"\A\s*USE\s+(?P<database>`[^`]+`|[A-Za-z0-9_]+)\s*;?\s*\Z", re.IGNORECASE)
_SET_STATEMENT = re.compile(r"\A\s*SET\s+(?P<assignments>.+?)\s*;?\s*\Z", re.IGNORECASE | re.DOTALL)

# Statements that return nothing; ClickHouse answers them with an empty body.
_COMMAND_KEYWORDS = frozenset(
    {"CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "OPTIMIZE", "INSERT", "DELETE", "ATTACH", "DETACH",
     "GRANT", "REVOKE", "KILL", "SYSTEM", "UPDATE", "EXCHANGE", "UNDROP"}
)  # fmt: skip
_HEAD_SEARCH_LIMIT = 256 * 1024  # an INSERT's statement part is never longer; its data may be gigabytes.


@dataclass(frozen=True)
class InsertData:
    """An INSERT whose rows arrive as a formatted payload after the statement."""

    target: str  # "INSERT INTO db.t (a, b)"
    settings_clause: str  # the text after SETTINGS, or ""
    format: str
    data: memoryview  # a view into the request body: payloads can be large, so they are never copied


@dataclass(frozen=True)
class SessionChange:
    """A ``USE`` or ``SET`` statement: it only changes the state of the HTTP session that sent it."""

    database: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    output_format: str
    returns_rows: bool
    database: str | None
    session_id: str | None
    settings: Mapping[str, str]
    parameters: Mapping[str, str]
    insert: InsertData | None = None
    session_change: SessionChange | None = None


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a ``multipart/form-data`` body: ``query`` and ``param_<name>`` values."""
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )
    if not message.is_multipart():
        raise WarehouseError(SYNTAX_ERROR, "a multipart/form-data body without parts")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and part.get_filename() is None and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields


def parse_query_request(params: Mapping[str, str], body: bytes) -> QueryRequest:
    """Build the :class:`QueryRequest` for one HTTP request, or raise a ``WarehouseError`` like ClickHouse."""
    url_query = params.get("query", "")
    # ClickHouse appends the body to the URL's query.
    raw = b"\n".join(part for part in (url_query.encode(), body) if part)
    if not raw.strip():
        raise WarehouseError(SYNTAX_ERROR, "Empty query")

    insert = _split_insert_data(raw)
    sql = insert.target if insert else _decode(raw).strip()
    output_format = params.get("default_format") or "TabSeparated"
    trailing = _TRAILING_FORMAT.search(sql) if not insert else None
    if trailing:
        output_format = trailing.group("format")
    keyword = _leading_keyword(sql)
    return QueryRequest(
        sql=sql,
        output_format=output_format,
        returns_rows=insert is None and keyword not in _COMMAND_KEYWORDS,
        database=params.get("database") or None,
        session_id=params.get("session_id") or None,
        settings={
            name: value
            for name, value in params.items()
            if name not in TRANSPORT_PARAMETERS and not name.startswith((PARAMETER_PREFIX, _HTTP_SETTING_PREFIX))
        },
        parameters={
            name.removeprefix(PARAMETER_PREFIX): value
            for name, value in params.items()
            if name.startswith(PARAMETER_PREFIX)
        },
        insert=insert,
        session_change=_session_change(sql) if keyword in ("USE", "SET") else None,
    )


def _split_insert_data(raw: bytes) -> InsertData | None:
    match = _INSERT_WITH_FORMAT.match(raw[:_HEAD_SEARCH_LIMIT])
    if match is None:
        return None
    head = _decode(match.group("head")).strip()
    settings = _SETTINGS_CLAUSE.match(head)
    return InsertData(
        target=settings.group("target") if settings else head,
        settings_clause=settings.group("settings") if settings else "",
        format=match.group("format").decode(),
        data=memoryview(raw)[match.end() :],
    )


def _session_change(sql: str) -> SessionChange | None:
    use = _USE_STATEMENT.match(sql)
    if use:
        return SessionChange(database=use.group("database").strip("`"))
    assignments = _SET_STATEMENT.match(sql)
    if assignments is None:
        return None
    settings: dict[str, str] = {}
    for assignment in assignments.group("assignments").split(","):
        name, separator, value = assignment.partition("=")
        if not separator:
            raise WarehouseError(SYNTAX_ERROR, f"Syntax error in SET: {assignment.strip()!r}")
        settings[name.strip()] = value.strip().strip("'")
    return SessionChange(settings=settings)


def _leading_keyword(sql: str) -> str:
    match = _LEADING_KEYWORD.match(sql)
    return match.group("word").upper() if match else ""


def _decode(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as error:
        raise WarehouseError(SYNTAX_ERROR, f"Query is not valid UTF-8: {error}") from None
