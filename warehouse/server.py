"""The ClickHouse HTTP interface in front of the embedded engine (Starlette + uvicorn).

It answers ``/ping``, ``GET|POST /`` queries and ``/metrics`` the way clickhouse-server does, so clients
(clickhouse-connect, curl, Grafana, DBeaver) cannot tell it from a real server.
"""

from __future__ import annotations

import base64
import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import orjson
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from runtime.logging import configure_logging
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from runtime.settings import load_settings
from warehouse.engine import Engine, QueryOutcome
from warehouse.errors import QUERY_IS_TOO_LARGE, WarehouseError
from warehouse.http_encoding import choose_response_encoding, decode_body, encode_body
from warehouse.http_request import QueryRequest, form_fields, parse_query_request
from warehouse.http_sessions import HttpSessions
from warehouse.settings import WarehouseSettings

QUERIES = Counter("beacon_warehouse_queries_total", "Queries answered", ["kind", "outcome"])
QUERY_SECONDS = Histogram("beacon_warehouse_query_seconds", "Time spent in the engine per query", ["kind"])
ROWS_WRITTEN = Counter("beacon_warehouse_rows_written_total", "Rows written by INSERTs")

_AUTHENTICATION_FAILED = 516
_SERVER_NAME = "beacon-embedded-warehouse"
_CONTENT_TYPES = (
    (("JSONEachRow", "JSONLines", "NDJSON", "JSONCompactEachRow"), "application/x-ndjson; charset=UTF-8"),
    (("JSON",), "application/json; charset=UTF-8"),
    (("TabSeparated", "TSV"), "text/tab-separated-values; charset=UTF-8"),
    (("CSV",), "text/csv; charset=UTF-8"),
    (("Pretty", "Vertical", "Markdown", "Values", "XML"), "text/plain; charset=UTF-8"),
)


def content_type_for(output_format: str) -> str:
    for prefixes, content_type in _CONTENT_TYPES:
        if output_format.startswith(prefixes):
            return content_type
    return "application/octet-stream"


def create_app(settings: WarehouseSettings) -> Starlette:
    """The warehouse application; the engine opens (and locks the data directory) at startup."""
    sessions = HttpSessions()
    state: dict[str, Engine | str] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        engine = Engine(settings.warehouse_data_dir)
        state["engine"] = engine
        state["timezone"] = engine.run("SELECT timezone()", "TabSeparated").body.decode().strip()
        try:
            yield
        finally:
            engine.close()

    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def metrics(_: Request) -> Response:
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    async def query(request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": _SERVER_NAME,
            "X-ClickHouse-Timezone": str(state["timezone"]),
        }
        kind = "unknown"
        try:
            _authenticate(request, params, settings)
            body = await _read_body(request, settings.warehouse_max_request_bytes)
            body = decode_body(body, request.headers.get("content-encoding"))
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                params = {**params, **form_fields(content_type, body)}
                body = b""
            if not body and "query" not in params:
                return PlainTextResponse("Ok.\n", headers=headers)
            parsed = parse_query_request(params, body)
            kind = "insert" if parsed.insert else ("select" if parsed.returns_rows else "command")
            outcome = await _execute(parsed, params, sessions, state["engine"])  # type: ignore[arg-type]
        except WarehouseError as error:
            QUERIES.labels(kind, "error").inc()
            headers["X-ClickHouse-Exception-Code"] = str(error.code)
            return PlainTextResponse(error.response_text(), status_code=error.http_status, headers=headers)
        QUERIES.labels(kind, "ok").inc()
        QUERY_SECONDS.labels(kind).observe(outcome.elapsed_seconds)
        ROWS_WRITTEN.inc(outcome.written_rows)
        headers["X-ClickHouse-Format"] = parsed.output_format
        headers["X-ClickHouse-Summary"] = _summary(outcome)
        payload = outcome.body
        encoding = choose_response_encoding(request.headers.get("accept-encoding"))
        if payload and encoding and params.get("enable_http_compression") == "1":
            payload = encode_body(payload, encoding)
            headers["Content-Encoding"] = encoding
        return Response(payload, media_type=content_type_for(parsed.output_format), headers=headers)

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/", query, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )


async def _execute(
    parsed: QueryRequest, params: dict[str, str], sessions: HttpSessions, engine: Engine
) -> QueryOutcome:
    timeout = params.get("session_timeout")
    session = sessions.state(parsed.session_id, float(timeout) if timeout else None)
    if parsed.session_change is not None:
        HttpSessions.apply(session, parsed.session_change)
        return QueryOutcome(b"", 0, 0, 0, 0, 0.0)
    return await anyio.to_thread.run_sync(
        lambda: engine.run(
            parsed.sql,
            parsed.output_format,
            parameters=parsed.parameters,
            settings={**session.settings, **parsed.settings},
            database=parsed.database or session.database,
            insert=parsed.insert,
        )
    )


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WarehouseError(QUERY_IS_TOO_LARGE, f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authenticate(request: Request, params: dict[str, str], settings: WarehouseSettings) -> None:
    """Check the password the ClickHouse way: X-ClickHouse-Key, Basic auth, or the ``password`` parameter."""
    if settings.warehouse_password is None:
        return
    given = request.headers.get("x-clickhouse-key") or params.get("password") or ""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("basic "):
        _, _, given = base64.b64decode(authorization[6:]).decode(errors="replace").partition(":")
    if not hmac.compare_digest(given.encode(), settings.warehouse_password.get_secret_value().encode()):
        raise WarehouseError(_AUTHENTICATION_FAILED, "default: Authentication failed: password is incorrect")


def _summary(outcome: QueryOutcome) -> str:
    return orjson.dumps(
        {
            "read_rows": str(outcome.read_rows),
            "read_bytes": str(outcome.read_bytes),
            "written_rows": str(outcome.written_rows),
            "written_bytes": str(outcome.written_bytes),
            "total_rows_to_read": str(outcome.read_rows),
            "result_rows": str(outcome.written_rows or outcome.read_rows),
            "result_bytes": str(outcome.written_bytes or len(outcome.body)),
            "elapsed_ns": str(int(outcome.elapsed_seconds * 1e9)),
        }
    ).decode()


def main() -> None:
    from runtime.http_serving import serve

    settings = load_settings(WarehouseSettings)
    configure_logging("warehouse")
    serve(create_app(settings), settings.warehouse_host, settings.warehouse_port)


if __name__ == "__main__":
    main()
