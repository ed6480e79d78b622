"""The collector's HTTP application (FastAPI).

``GET /p.gif`` is the tracking pixel: it always answers the transparent GIF, whatever the input, because an
image tag cannot show an error; what was wrong with a hit is recorded in the dead letters instead.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import uuid4

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram

from collector.hit_sink import KafkaHitSink
from collector.raw_hits import oversized_query, raw_hit_from_query
from collector.settings import CollectorSettings
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from schemas.events import HitSource

TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}

HITS = Counter("beacon_collector_hits_total", "Hits received", ["source", "outcome"])
SEND_SECONDS = Histogram("beacon_collector_send_seconds", "Time until the broker acknowledged a hit")

log = structlog.get_logger("collector")


def create_app(settings: CollectorSettings, sink: KafkaHitSink | None = None) -> FastAPI:
    hit_sink = sink or KafkaHitSink(settings.kafka_bootstrap, settings.collector_send_timeout_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hit_sink.start()
        try:
            yield
        finally:
            await hit_sink.stop()

    app = FastAPI(title="Beacon collector", lifespan=lifespan, docs_url="/docs", redoc_url=None)

    @app.get("/p.gif", summary="Tracking pixel", response_class=Response)
    async def pixel(request: Request) -> Response:
        received_at = datetime.now(UTC)
        hit_id = uuid4()
        query_string = request.url.query
        started = time.perf_counter()
        try:
            if len(query_string.encode()) > settings.collector_max_query_bytes:
                await hit_sink.send_dead_letter(
                    oversized_query(
                        hit_id=hit_id,
                        received_at=received_at,
                        query_string=query_string,
                        limit=settings.collector_max_query_bytes,
                    )
                )
                outcome = "dead_letter"
            else:
                await hit_sink.send_hit(
                    raw_hit_from_query(
                        hit_id=hit_id,
                        source=HitSource.PIXEL,
                        received_at=received_at,
                        query=request.query_params,
                        ip=request.client.host if request.client else "",
                        user_agent=request.headers.get("user-agent", ""),
                        referer=request.headers.get("referer", ""),
                    )
                )
                outcome = "accepted"
        except Exception:  # the pixel answers its GIF whatever happens; the failure is logged and counted
            log.exception("hit_not_forwarded", hit_id=str(hit_id))
            outcome = "failed"
        SEND_SECONDS.observe(time.perf_counter() - started)
        HITS.labels(HitSource.PIXEL.value, outcome).inc()
        return Response(TRANSPARENT_GIF, media_type="image/gif", headers=_NO_STORE)

    @app.get("/healthz", summary="Liveness and readiness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    return app
