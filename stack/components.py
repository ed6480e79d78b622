"""What a local stack is made of: each part's command, environment and readiness probe, in start order."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from stack.dashboard_tokens import dashboard_token
from stack.demo_site import DEMO_SITE_ID
from stack.email_keys import email_signing_keys
from stack.health import HttpProbe, Probe, TcpProbe
from stack.local_secrets import local_secret
from stack.settings import StackSettings
from stack.tracker_build import TRACKER_DIR
from stack.webhook_keys import webhook_signing_keys

SALT_SECRET_VARIABLE = "BEACON_STREAM_VISITOR_SALT_SECRET"  # the stream worker's salt for cookieless visitor hashes


@dataclass(frozen=True)
class Component:
    name: str
    title: str
    command: list[str]
    probe: Probe
    address: str  # what a user connects to, shown by `up` and `status`
    environment: dict[str, str] = field(default_factory=dict)


def embedded_services(settings: StackSettings) -> list[Component]:
    """The embedded broker and warehouse, for whichever of the two has no real server configured."""
    python = sys.executable
    services = []
    if settings.embedded_kafka:
        services.append(
            Component(
                name="kafka",
                title="Kafka broker (embedded noida-db)",
                command=[python, "-m", "stack.kafka_broker", "--data-dir", str(settings.home / "kafka"),
                         "--host", settings.host, "--port", str(settings.kafka_port)],
                probe=TcpProbe(settings.kafka_address),
                address=settings.kafka_address,
            )
        )  # fmt: skip
    if settings.embedded_warehouse:
        services.append(
            Component(
                name="warehouse",
                title="Warehouse (embedded chDB, ClickHouse HTTP interface)",
                command=[python, "-m", "warehouse"],
                probe=HttpProbe(f"{settings.clickhouse_address}/ping"),
                address=settings.clickhouse_address,
                environment={
                    "BEACON_WAREHOUSE_HOST": settings.host,
                    "BEACON_WAREHOUSE_PORT": str(settings.warehouse_port),
                    "BEACON_WAREHOUSE_DATA_DIR": str(settings.home / "warehouse"),
                },
            )
        )
    return services


def applications(settings: StackSettings) -> list[Component]:
    """Beacon's own processes, in the order data flows backwards (sinks first, so nothing waits on them)."""
    python = sys.executable
    connections = {
        "BEACON_KAFKA_BOOTSTRAP": settings.kafka_address,
        "BEACON_CLICKHOUSE_URL": settings.clickhouse_address,
    }
    return [
        Component(
            name="writer",
            title="Warehouse writer",
            command=[python, "-m", "stream_processors.sinks.warehouse_writer"],
            probe=HttpProbe(f"http://{settings.host}:{settings.writer_port}/health"),
            address=f"http://{settings.host}:{settings.writer_port}/metrics",
            environment={
                **connections,
                "BEACON_WRITER_HOST": settings.host,
                "BEACON_WRITER_PORT": str(settings.writer_port),
            },
        ),
        Component(
            name="webhooks",
            title="Segment webhook sender",
            command=[python, "-m", "destinations.segment_webhooks"],
            probe=HttpProbe(f"http://{settings.host}:{settings.webhook_port}/health"),
            address=f"http://{settings.host}:{settings.webhook_port}/metrics",
            environment={
                **connections,
                "BEACON_WEBHOOK_HOST": settings.host,
                "BEACON_WEBHOOK_PORT": str(settings.webhook_port),
                "BEACON_DEFINITIONS_DIR": str(settings.definitions_dir.resolve()),
                "BEACON_WEBHOOK_SIGNING_KEYS": webhook_signing_keys(settings.home),
            },
        ),
        Component(
            name="dashboard",
            title="Dashboard",
            command=[python, "-m", "dashboard"],
            probe=HttpProbe(f"http://{settings.host}:{settings.dashboard_port}/health"),
            address=settings.dashboard_url,
            environment={
                **connections,  # (it reads ClickHouse only)
                "BEACON_DASHBOARD_HOST": settings.host,
                "BEACON_DASHBOARD_PORT": str(settings.dashboard_port),
                "BEACON_DEFINITIONS_DIR": str(settings.definitions_dir.resolve()),
                "BEACON_DASHBOARD_TOKEN": dashboard_token(settings.home),
            },
        ),
        Component(
            name="stream",
            title="Stream worker (faust: normalize, enrich, sessionize)",
            command=[python, "-m", "stream_processors"],
            probe=HttpProbe(f"http://{settings.host}:{settings.stream_web_port}/health"),
            address=f"http://{settings.host}:{settings.stream_web_port}/metrics",
            environment={
                **connections,
                "BEACON_STREAM_WEB_HOST": settings.host,
                "BEACON_STREAM_WEB_PORT": str(settings.stream_web_port),
                "BEACON_STREAM_DATA_DIR": str(settings.home / "stream"),
                "BEACON_DEFINITIONS_DIR": str(settings.definitions_dir.resolve()),
                SALT_SECRET_VARIABLE: local_secret(settings.home, SALT_SECRET_VARIABLE, "visitor_salt_secret"),
            },
        ),
        Component(
            name="collector",
            title="Collector",
            command=[python, "-m", "collector"],
            probe=HttpProbe(f"{settings.collector_url}/healthz"),
            address=settings.collector_url,
            environment={
                **connections,
                "BEACON_COLLECTOR_HOST": settings.host,
                "BEACON_COLLECTOR_PORT": str(settings.collector_port),
                "BEACON_COLLECTOR_SPOOL_DIR": str(settings.home / "collector-spool"),
                "BEACON_COLLECTOR_SITES_SNAPSHOT": str(settings.home / "collector-sites.json"),
                "BEACON_EMAIL_SIGNING_KEYS": email_signing_keys(settings.home),
                "BEACON_COLLECTOR_TRACKER_DIR": str(TRACKER_DIR),
                "BEACON_COLLECTOR_DEMO_SITE": DEMO_SITE_ID,  # the demo shop at /demo
            },
        ),
    ]
