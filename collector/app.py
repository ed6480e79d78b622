"""The collector's HTTP application (FastAPI): routes, the site registry and the Kafka sink, wired once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

from collector.browser_api import browser_routes
from collector.email_links import email_routes
from collector.errors import CollectorError, collector_error_response
from collector.hit_sink import DurableHitSink, KafkaProducerSink
from collector.intake import Intake
from collector.openapi import describe_api
from collector.pixel import TRANSPARENT_GIF, pixel_route
from collector.rate_limits import RateLimits, TokenBuckets
from collector.responses import json_response
from collector.segment_api import segment_routes
from collector.settings import CollectorSettings
from collector.site_registry import SiteRegistry, SiteRegistryFollower
from collector.snowplow_api import snowplow_pixel_route, snowplow_routes
from collector.spool import Spool
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from schemas.email import EmailTokens

__all__ = ["TRANSPARENT_GIF", "create_app"]


def create_app(settings: CollectorSettings) -> FastAPI:
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
            await follower.stop()
            await sink.stop()

    app = FastAPI(title="Beacon collector", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.add_exception_handler(CollectorError, collector_error_response)
    describe_api(app)
    app.router.routes.append(pixel_route(intake, settings))  # plain Starlette: see collector/pixel.py
    email_secrets = settings.email_secrets()
    app.router.routes.extend(email_routes(intake, EmailTokens(email_secrets) if email_secrets else None))
    app.include_router(segment_routes(intake))
    app.include_router(browser_routes(intake))
    app.include_router(snowplow_routes(intake))
    app.router.routes.append(snowplow_pixel_route(intake))

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

    return app
