"""The dashboard's HTTP side: the page, its assets, and one JSON endpoint per named query (``dashboard/queries.py``).

``GET /dashboard`` is the page (or the login form), ``GET /dashboard/api/queries/<name>?site=&from=&to=`` a query's
columns and rows, ``/health`` and ``/metrics`` as every part has. The page polls the live queries every few
seconds and asks the others again when the site or the period changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard.access import COOKIE_NAME, is_allowed, login_page, session_cookie, token_matches
from dashboard.queries import BY_NAME, DashboardFilter, DashboardQuery, QueryResult, run_query
from dashboard.settings import DashboardSettings
from runtime.clickhouse import connect_clickhouse
from runtime.definitions import DefinitionFolder
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from schemas.journeys import JourneyDefinition, default_journey
from schemas.sites import SITE_ID_PATTERN

QUERY_SECONDS = Histogram(
    "beacon_dashboard_query_seconds", "Time to answer a named query, ClickHouse included", ["query"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10),
)  # fmt: skip
QUERY_ERRORS = Counter("beacon_dashboard_query_errors_total", "Named queries ClickHouse failed to answer", ["query"])
DEFAULT_DAYS = 30  # the period when none is asked for: the last 30 days, today included
NO_STORE = {"Cache-Control": "no-store"}


class BadRequestError(ValueError):
    """A request's parameters cannot be used; the message says which and why."""


def period_of(parameters: Mapping[str, str], today: date, max_days: int) -> tuple[date, date]:
    """The period asked for (``from`` and ``to``, ISO days, both included), by default the last 30 days."""
    try:
        last = date.fromisoformat(parameters["to"]) if parameters.get("to") else today
        first = date.fromisoformat(parameters["from"]) if parameters.get("from") else last - timedelta(DEFAULT_DAYS - 1)
    except ValueError:
        raise BadRequestError("from and to are days, as 2025-01-31") from None
    if first > last:
        raise BadRequestError("from is after to")
    if (last - first).days + 1 > max_days:
        raise BadRequestError(f"the period is longer than {max_days} days")
    return first, last


def jsonable(value: Any) -> Any:
    """A ClickHouse value as JSON: times as ISO text (UTC), decimals as numbers, NaN and infinities as null."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


class Dashboard:
    def __init__(self, settings: DashboardSettings, client: Client | None = None) -> None:
        self._settings = settings
        self._token = settings.dashboard_token.get_secret_value().strip()
        self._client = client
        self._definitions = DefinitionFolder(settings.definitions_dir)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect_clickhouse(self._settings.clickhouse_url, send_receive_timeout=30)
        return self._client

    async def page(self, request: Request) -> Response:
        offered = request.query_params.get("token")
        if offered is not None:
            if not token_matches(offered, self._token):
                return HTMLResponse(login_page("That token is not the dashboard's."), status_code=401)
            return self._logged_in(request)
        if not is_allowed(request, self._token):
            return HTMLResponse(login_page(), status_code=401)
        return FileResponse(self._settings.dashboard_assets_dir / "index.html", headers=NO_STORE)

    async def login(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"))
        if not token_matches(form.get("token", [""])[0], self._token):
            return HTMLResponse(login_page("That token is not the dashboard's."), status_code=401)
        return self._logged_in(request)

    def _logged_in(self, request: Request) -> Response:
        # Back to the page without the token in the address bar (nor in the history).
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            COOKIE_NAME, session_cookie(self._token), max_age=30 * 86400, path="/dashboard", httponly=True,
            samesite="lax", secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def query(self, request: Request) -> Response:
        if not is_allowed(request, self._token):
            return JSONResponse({"error": "log in first: the dashboard's token is needed"}, 401, NO_STORE)
        query = BY_NAME.get(request.path_params["name"])
        if query is None:
            return JSONResponse({"error": f"no query named {request.path_params['name']!r}"}, 404, NO_STORE)
        try:
            chosen = self._filter(query, request.query_params)
        except BadRequestError as error:
            return JSONResponse({"error": str(error)}, 400, NO_STORE)
        started = time.perf_counter()
        try:
            result: QueryResult = await run_in_threadpool(run_query, self.client, query, chosen)
        except ClickHouseError as error:
            QUERY_ERRORS.labels(query.name).inc()
            return JSONResponse({"error": f"ClickHouse: {str(error)[:500]}"}, 502, NO_STORE)
        finally:
            QUERY_SECONDS.labels(query.name).observe(time.perf_counter() - started)
        rows = [[jsonable(value) for value in row] for row in result.rows]
        return JSONResponse({"query": query.name, "columns": list(result.columns), "rows": rows}, headers=NO_STORE)

    def _filter(self, query: DashboardQuery, parameters: Mapping[str, str]) -> DashboardFilter:
        site_id = parameters.get("site", "")
        if "site" in query.parameters and not SITE_ID_PATTERN.match(site_id):
            raise BadRequestError("site is a site id: a-z, 0-9, _ and -, at most 63")
        first, last = period_of(parameters, datetime.now(UTC).date(), self._settings.dashboard_max_days)
        return DashboardFilter(site_id, first, last, self._journey(query, site_id))

    def _journey(self, query: DashboardQuery, site_id: str) -> JourneyDefinition:
        if "stages" not in query.parameters:
            return default_journey(site_id or "any")
        return self._definitions.read_journeys().by_site.get(site_id) or default_journey(site_id)


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(_: Request) -> Response:
    return Response(render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def to_dashboard(_: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=307)


def create_app(settings: DashboardSettings, client: Client | None = None) -> Starlette:
    dashboard = Dashboard(settings, client)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(lambda: dashboard.client)  # connect before the health check says ready
        yield

    return Starlette(
        routes=[
            Route("/", to_dashboard),
            Route("/dashboard", dashboard.page),
            Route("/dashboard/login", dashboard.login, methods=["POST"]),
            Route("/dashboard/api/queries/{name}", dashboard.query),
            Mount("/dashboard/assets", StaticFiles(directory=settings.dashboard_assets_dir, check_dir=False)),
            Route("/health", health),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan if client is None else None,
    )
