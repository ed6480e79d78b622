"""The dashboard's named queries on a month of generated traffic for one site: each query's time (goal < 300 ms).

On a throwaway stack (every part of `./beacon up`, on free ports), with the shipped demo segments defined for the
site: the traffic generator's month for one site is sent through the collector as real clients send it (browser
API, Segment batches, email pixels and links), then the script waits until every event is stored and the stream's
per-person figures (journey, email, segments) stop moving.
Each query then runs ``--rounds`` times after one warm-up, twice over: with clickhouse-connect, as the dashboard
runs it, and through the dashboard's own JSON endpoint (what the page waits for: the query, its rows as JSON, and
HTTP). The period is the month.

    .venv/bin/python -m benchmarks.dashboard --visitors 3000 --days 30 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from dashboard.queries import QUERIES, DashboardFilter, run_query
from runtime.clickhouse import connect_clickhouse
from runtime.definitions import DefinitionFolder
from schemas.email import EmailTokens
from schemas.journeys import default_journey
from schemas.segments import SegmentDefinition, load_segment_file
from schemas.traffic import TrafficSettings
from stack.dashboard_tokens import dashboard_token
from stack.email_keys import email_signing_keys
from stack.ephemeral import settings_on_free_ports
from stack.segment_admin import running_segments
from stack.settings import StackSettings
from stack.site_admin import create_site
from stack.supervisor import LocalStack
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic

ROOT = Path(__file__).resolve().parent.parent
SITE = "bench"
GOAL_MS = 300
STORED = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String}"
SETTLED = (
    "SELECT (SELECT count() FROM beacon.funnel_transitions WHERE site_id = {s:String}),"
    " (SELECT count() FROM beacon.email_deliveries WHERE site_id = {s:String}),"
    " (SELECT count() FROM beacon.segment_changes WHERE site_id = {s:String})"
)


def wait_for(what: str, check: Callable[[], bool], timeout_seconds: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"{what}: not within {timeout_seconds:.0f} s")
        time.sleep(1)
    return time.monotonic() - started


def install_segments(settings: StackSettings) -> None:
    """The shipped demo segments, for the benchmark's site, so that its segment sizes have changes to sum."""
    folder = DefinitionFolder(settings.definitions_dir)
    segments = []
    for path in sorted((ROOT / "config" / "segments").glob("*.yaml")):
        shipped = load_segment_file(path)
        segment_id = shipped.segment_id.replace("demo", SITE, 1)
        segment = SegmentDefinition.model_validate({**shipped.model_dump(), "site_id": SITE, "segment_id": segment_id})
        folder.write_segment(segment)
        segments.append(segment)
    worker = f"http://{settings.host}:{settings.stream_web_port}"
    wait_for(
        "the stream worker to run the segments",
        lambda: all((running_segments(worker) or {}).get(s.segment_id) == s.version for s in segments),
        30,
    )


def send_month(settings: StackSettings, visitors: int, days: int, seed: int) -> tuple[TrafficSettings, int]:
    _, write_key = asyncio.run(
        create_site(settings.kafka_address, site_id=SITE, name="Benchmark shop", domains=["shop.example"])
    )
    probe = {"type": "identify", "userId": "registry-probe", "traits": {"probe": True}}
    wait_for(
        "the collector to load the site",
        lambda: (
            httpx.post(f"{settings.collector_url}/v1/identify", json=probe, auth=(write_key, "")).status_code == 200
        ),
        30,
    )
    traffic = TrafficSettings(
        seed=seed, visitors=visitors, start=datetime.now(UTC) - timedelta(hours=days * 24 + 1), hours=days * 24
    )
    planned = plan_traffic(SITE, traffic)
    target = TrafficTarget(
        collector_url=settings.collector_url,
        site_id=SITE,
        write_key=write_key,
        origin="https://shop.example",
        email_tokens=EmailTokens(email_signing_keys(settings.home).split(",")),
    )
    started = time.monotonic()
    report = send_traffic(planned, target)
    assert report.refused == [], report.refused[:3]
    distinct, emails = expected_events(planned)
    print(f"sent {report.events:,} events in {time.monotonic() - started:.0f} s: {distinct + emails:,} to store")
    return traffic, distinct + emails + 1  # (the registry probe's identify)


def milliseconds(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} / {max(samples) * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="beacon-dashboard-bench-") as home:
        settings = settings_on_free_ports(Path(home))
        stack = LocalStack(settings, workdir=ROOT)
        stack.start()
        try:
            clickhouse = connect_clickhouse(settings.clickhouse_address)
            install_segments(settings)
            traffic, to_store = send_month(settings, arguments.visitors, arguments.days, arguments.seed)
            waited = wait_for(
                f"{to_store:,} events stored",
                lambda: clickhouse.query(STORED, parameters={"s": SITE}).result_rows == [(to_store,)],
                1800,
            )
            print(f"stored {waited:.0f} s after the last send")
            previous: list[object] = []

            def settled() -> bool:
                nonlocal previous
                now = list(clickhouse.query(SETTLED, parameters={"s": SITE}).result_rows)
                unchanged, previous = now == previous, now
                return unchanged

            time.sleep(5)
            print(f"the stream's figures settled {wait_for('the stream to settle', settled, 1800):.0f} s later")
            counts = clickhouse.query(
                "SELECT count() AS events, countIf(event_name = 'page_view') AS page_views,"
                " uniqExact(visitor_id) AS visitors FROM beacon.events FINAL WHERE site_id = {s:String}",
                parameters={"s": SITE},
            ).result_rows[0]
            print(f"site {SITE}: {counts[0]:,} events, {counts[1]:,} page views, {counts[2]:,} visitors")
            print(f"load average before the queries: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")

            chosen = DashboardFilter(SITE, traffic.start.date(), datetime.now(UTC).date(), default_journey(SITE))
            api = httpx.Client(
                base_url=settings.dashboard_url,
                headers={"Authorization": f"Bearer {dashboard_token(settings.home)}"},
                timeout=30,
            )
            period = {"site": SITE, "from": str(chosen.first_day), "to": str(chosen.last_day)}
            print(f"\nperiod {chosen.first_day} .. {chosen.last_day}; median / max of {arguments.rounds} runs, ms")
            print(f"{'query':<20} {'rows':>5} {'ClickHouse':>12} {'dashboard API':>14}  goal < {GOAL_MS} ms")
            for query in QUERIES:
                rows = len(run_query(clickhouse, query, chosen).rows)  # (warm-up)
                direct, through_api = [], []
                for _ in range(arguments.rounds):
                    started = time.perf_counter()
                    run_query(clickhouse, query, chosen)
                    direct.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    answer = api.get(f"/api/queries/{query.name}", params=period)
                    through_api.append(time.perf_counter() - started)
                    answer.raise_for_status()
                met = "met" if statistics.median(through_api) * 1000 < GOAL_MS else "NOT met"
                print(f"{query.name:<20} {rows:>5} {milliseconds(direct):>12} {milliseconds(through_api):>14}  {met}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
