"""The faust application shared by the stream agents, configured from ``StreamWorkerSettings``."""

from __future__ import annotations

import faust
from faust import web

from runtime.logging import json_logging_config
from runtime.metrics import METRICS_CONTENT_TYPE, render_metrics
from runtime.settings import load_settings
from schemas.topics import STREAM_APP_ID
from stream_processors.settings import StreamWorkerSettings


def create_faust_app(settings: StreamWorkerSettings) -> faust.App:
    app = faust.App(
        STREAM_APP_ID,
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        datadir=str(settings.stream_data_dir),
        store="memory://",
        web_host=settings.stream_web_host,
        web_port=settings.stream_web_port,
        # Topics come from schemas.topics and are created by runtime.kafka_topics before any worker starts.
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # Static membership: a restarted worker takes its partitions back at once, rather than waiting for the
        # group to expire the dead member (which the embedded broker never does).
        consumer_group_instance_id=settings.group_instance_id(),
        broker_session_timeout=settings.stream_session_timeout_seconds,
        broker_heartbeat_interval=settings.stream_session_timeout_seconds / 5,
        broker_rebalance_timeout=settings.stream_session_timeout_seconds,
        producer_acks=-1,
        producer_compression_type="lz4",
        value_serializer="raw",
        key_serializer="raw",
        logging_config=json_logging_config(),  # the worker re-configures logging at start: keep it JSON
    )

    keep_records_queued_on_resume(app)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        return view.json({"status": "ok"})

    @app.page("/metrics")
    async def metrics(view: web.View, request: web.Request) -> web.Response:
        # aiohttp refuses a charset inside content_type=, so the full Prometheus type goes in as a header.
        return view.bytes(render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    return app


def keep_records_queued_on_resume(app: faust.App) -> None:
    """Stop faust from emptying the agents' queues when flow resumes after a rebalance or table recovery.

    faust (0.15) fetches records while the table recovers, queues them, seeks to the committed offsets, and
    only then resumes flow, which empties the queues: records it had already fetched past the committed
    offsets are neither processed nor fetched again. A SIGKILLed worker restarted with a backlog lost its
    first records that way. Kept, they are processed (some twice: the seek reads them again), which the
    visitor state absorbs as duplicates.
    """
    app.flow_control.clear = lambda: None  # type: ignore[method-assign]


settings = load_settings(StreamWorkerSettings)
app = create_faust_app(settings)
