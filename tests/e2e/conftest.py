"""End-to-end tests: the whole stack; ``registered_site`` lives in tests/conftest.py (the fuzz tests share it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client
from playwright.sync_api import Browser, sync_playwright

from schemas.email import EmailTokens
from schemas.sessions import SessionRules
from schemas.traffic import PlannedEvent, TrafficSettings
from schemas.warehouse_rows import EVENTS_TABLE
from stack.chromium import CHROMIUM
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.analyst_guide import guide_funnels
from tests.support.funnels import install_funnels, sql_furthest_steps, stream_furthest_steps
from tests.support.polling import wait_until
from tests.support.sessions import Described, reference_of, stored_events, stored_sessions
from tests.support.sites import register_site

pytestmark = pytest.mark.e2e

CHROMIUM_ARGUMENTS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

REWRITTEN_EVENTS = 200  # events of the generated site written to beacon.events a second time


@dataclass(frozen=True)
class GeneratedSite:
    """A site after generated traffic went through the stack: what was planned, and its sessions as the
    reference sessionizer computes them from the stored events (which the stored sessions then equal)."""

    site_id: str
    planned: list[PlannedEvent]
    sessions: dict[frozenset[str], Described]


@pytest.fixture(scope="session")
def generated_site(beacon_stack: StackSettings, clickhouse: Client) -> GeneratedSite:
    """Generated traffic with client retries and late deliveries, sent once for the engagement and analyst
    guide tests, with the funnels the guide's queries name. Returned once every event is stored and the sessions
    and funnels are settled; then some of its events are inserted again, as a warehouse writer's retry would."""
    site = register_site(beacon_stack, prefix="generated")
    funnels = guide_funnels(site.site_id)
    install_funnels(beacon_stack, funnels)
    settings = TrafficSettings(
        seed=41, visitors=60, start=datetime.now(UTC) - timedelta(hours=3), hours=2,
        duplicate_rate=0.1, late_rate=0.1, email_share=1.0,
    )  # fmt: skip
    planned = plan_traffic(site.site_id, settings)
    target = TrafficTarget(
        collector_url=beacon_stack.collector_url,
        site_id=site.site_id,
        write_key=site.write_key,
        origin="https://shop.example",
        email_tokens=EmailTokens(email_signing_keys(beacon_stack.home).split(",")),
    )
    assert send_traffic(planned, target).refused == []
    distinct, emails = expected_events(planned)
    stored = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String} AND user_id != 'registry-probe'"
    wait_until(
        lambda: clickhouse.query(stored, parameters={"s": site.site_id}).result_rows == [(distinct + emails,)],
        what=f"{distinct + emails} events",
        timeout_seconds=120,
    )
    sessions = reference_of(stored_events(clickhouse, site.site_id), SessionRules())
    wait_until(
        lambda: stored_sessions(clickhouse, site.site_id) == sessions,
        what="the stored sessions to equal the reference",
        timeout_seconds=60,
    )
    wait_until(
        lambda: all(stream_furthest_steps(clickhouse, f) == sql_furthest_steps(clickhouse, f) for f in funnels),
        what="the per-person stage's funnels to catch up",
        timeout_seconds=60,
    )
    columns = ", ".join(EVENTS_TABLE.columns)
    clickhouse.command(
        f"INSERT INTO beacon.events ({columns}) SELECT {columns} FROM beacon.events"
        f" WHERE site_id = {{s:String}} ORDER BY event_id LIMIT {REWRITTEN_EVENTS}",
        parameters={"s": site.site_id},
    )
    return GeneratedSite(site.site_id, planned, sessions)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for a test module (the tracker's and the dashboard's browser tests)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `./beacon test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary user-data directory of its own.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGUMENTS)
        yield launched
        launched.close()
