"""Prometheus exposition shared by the services (each exposes ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


def render_metrics() -> bytes:
    """The process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
