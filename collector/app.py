"""The collector's HTTP application: routes, the site registry and the Kafka sink, wired once.

``CollectorApp`` is the ASGI entry: the pixel on its raw fast path (collector/pixel.py), every other route
through FastAPI, and every request counted by route and status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import Counter
from starlette.types import Message, Receive, Scope, Send

from collector.browser_api import browser_routes
from collector.email_links import email_routes
from collector.errors import CollectorError, collector_error_response
from collector.hit_sink import DurableHitSink, KafkaProducerSink
from collector.intake import Intake
from collector.openapi import describe_api
from collector.pixel import PIXEL_PATH, TRANSPARENT_GIF, PixelEndpoint
from collector.rate_limits import RateLimits, TokenBuckets
from collector.responses import json_response
from collector.segment_api import segment_routes
from collector.settings import CollectorSettings
from collector.snowplow_api import snowplow_pixel_route, snowplow_routes
from collector.spool import Spool
from collector.tracker_script import tracker_routes
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from runtime.site_registry import SiteRegistry, SiteRegistryFollower
from schemas.email import EmailTokens

__all__ = ["TRANSPARENT_GIF", "CollectorApp", "create_app"]

REQUESTS = Counter("beacon_collector_http_requests_total", "HTTP requests, by route and status", ["route", "status"])


class CollectorApp:
    """The ASGI app: the pixel first (no routing or middleware in its way), then FastAPI for the rest."""

    def __init__(self, api: FastAPI, pixel: PixelEndpoint) -> None:
        self.api = api
        self._pixel = pixel
        self._pixel_answered = REQUESTS.labels(PIXEL_PATH, "200")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        if scope["path"] == PIXEL_PATH:
            await self._pixel(scope, receive, send)
            if scope["method"] in ("GET", "HEAD"):
                self._pixel_answered.inc()
            else:
                REQUESTS.labels(PIXEL_PATH, "405").inc()
            return
        status = 500  # unless the app starts a response

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.api(scope, receive, send_and_note_status)
        finally:
            route = scope.get("route")  # set by the router on a match: a template, so labels stay bounded
            REQUESTS.labels(getattr(route, "path", "unmatched"), str(status)).inc()


def create_app(settings: CollectorSettings) -> CollectorApp:
    spool = Spool(settings.collector_spool_dir, settings.collector_spool_max_bytes)
    sink = DurableHitSink(KafkaProducerSink(settings.kafka_bootstrap), spool, settings.collector_send_timeout_seconds)
    registry = SiteRegistry()
    follower = SiteRegistryFollower(settings.kafka_bootstrap, registry, settings.collector_sites_snapshot)
    limits = RateLimits(
        per_ip=TokenBuckets(settings.collector_rate_per_ip, settings.collector_burst_per_ip),
        per_site=TokenBuckets(settings.collector_rate_per_site, settings.collector_burst_per_site),
    )
    intake = Intake(sink, registry, limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sink.start()
        await follower.start()  # from the broker, else from the last snapshot (see SiteRegistryFollower)
        try:
            yield
        finally:
            try:
                await follower.stop()
            finally:
                await sink.stop()  # always: it flushes the producer or spools what the broker did not take

    app = FastAPI(title="Beacon collector", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.add_exception_handler(CollectorError, collector_error_response)
    describe_api(app)
    email_secrets = settings.email_secrets()
    app.router.routes.extend(email_routes(intake, EmailTokens(email_secrets) if email_secrets else None))
    app.include_router(segment_routes(intake))
    app.include_router(browser_routes(intake))
    app.include_router(snowplow_routes(intake))
    app.router.routes.append(snowplow_pixel_route(intake))
    app.router.routes.extend(tracker_routes(settings.collector_tracker_dir, settings.collector_demo_site))

    @app.get("/healthz", summary="Liveness", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: not ready while the spool is above its threshold or no sites are known",
        tags=["operations"],
    )
    async def ready() -> Response:
        spooled = spool.size_bytes
        is_ready = spooled <= settings.collector_spool_ready_bytes and registry.loaded
        status = "ready" if is_ready else ("draining" if registry.loaded else "loading_sites")
        body = {"status": status, "spool_bytes": spooled, "sites_loaded": registry.loaded}
        return json_response(body, status_code=200 if is_ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response, tags=["operations"])
    async def metrics() -> Response:
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    return CollectorApp(app, PixelEndpoint(intake, settings.collector_max_query_bytes))
