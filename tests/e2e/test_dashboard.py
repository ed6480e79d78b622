"""The dashboard in real headless Chromium against the running stack, on the session's generated traffic (the
analyst guide's test's site): the page loads without console errors, its journey funnel and email campaign
figures are the named queries' results as ClickHouse gives them, screenshots (desktop and phone width) are saved
under test-artifacts/ for review, and its live counter moves when new hits come (to a site of their own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from playwright.sync_api import Browser, Page

from dashboard.queries import BY_NAME, DashboardFilter, run_query
from schemas.journeys import default_journey
from stack.dashboard_tokens import dashboard_token
from stack.settings import StackSettings
from stream_processors.email.email_deliveries import EmailRules
from stream_processors.email.email_sql import email_deliveries_sql
from tests.e2e.conftest import GeneratedSite
from tests.support.funnels import assert_journey_equals_sql
from tests.support.polling import wait_until
from tests.support.sites import register_site

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
RATE_COLUMNS = ("_rate", "of_first_stage", "of_previous_stage")
COMPARED_EMAIL = "campaign_id, message_id, recipient_id, opened, human_opened, human_clicked, conversions"


def shown(column: str, value: Any) -> str:
    """How the page formats a value (dashboard/web/src/dashboard.js, formatValue)."""
    if value is None:
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if column.endswith(RATE_COLUMNS) or column.startswith("week_"):
            return f"{value * 100:.1f}%"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return "(none)" if value == "" else str(value)


@pytest.fixture(scope="module")
def site(generated_site: GeneratedSite, clickhouse: Client) -> str:
    """The session's generated site (two hours of journeys, purchases, newsletters), once the stream's journey and
    email figures are settled (its fixture waits for the funnels the guide names, not these)."""
    site_id = generated_site.site_id
    assert_journey_equals_sql(clickhouse, site_id)
    in_sql = f"SELECT {COMPARED_EMAIL} FROM ({email_deliveries_sql(site_id, EmailRules())}) ORDER BY ALL"
    in_stream = f"SELECT {COMPARED_EMAIL} FROM beacon.email_deliveries FINAL WHERE site_id = {{s:String}} ORDER BY ALL"
    wait_until(
        lambda: (
            clickhouse.query(in_stream, parameters={"s": site_id}).result_rows == clickhouse.query(in_sql).result_rows
        ),
        what="the stream's email figures",
        timeout_seconds=60,
    )
    return site_id


@pytest.fixture(scope="module")
def live_site(beacon_stack: StackSettings) -> str:
    """The live hits go to a site of their own: the generated site is shared with other tests, which its stored
    events must keep matching (the engagement test's page views, for one). (Registered before the browser
    starts: its asyncio loop would refuse the registry's.)"""
    return register_site(beacon_stack, prefix="dashboard-live").site_id


def table_texts(page: Page, query: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f'.table[data-query="{query}"] tbody tr',
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))",
    )


def live_visitors(page: Page) -> int:
    value = page.get_attribute("#live-visitors", "data-value")
    return int(value) if value else -1


def test_the_dashboard_shows_the_queries_figures_and_live_hits(
    beacon_stack: StackSettings, clickhouse: Client, site: str, live_site: str, browser: Browser
) -> None:
    today = datetime.now(UTC).date()
    chosen = DashboardFilter(site, today - timedelta(days=29), today, default_journey(site))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    page.goto(f"{beacon_stack.dashboard_url}?token={dashboard_token(beacon_stack.home)}")
    assert page.url == beacon_stack.dashboard_url, "the token leaves the address bar for a cookie"
    query = f"site={site}&from={chosen.first_day}&to={chosen.last_day}"
    page.goto(f"{beacon_stack.dashboard_url}?{query}")
    page.wait_for_selector("body[data-loaded=true]", timeout=15_000)

    for name in ("journey_funnel", "email_campaigns"):
        result = run_query(clickhouse, BY_NAME[name], chosen)
        assert result.rows, f"{name}: the traffic has figures to show"
        expected = [
            [shown(column, value) for column, value in zip(result.columns, row, strict=True)] for row in result.rows
        ]
        assert table_texts(page, name) == expected, name
    assert page.text_content("#status") == ""

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # the charts follow the width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{beacon_stack.dashboard_url}?site={live_site}&from={chosen.first_day}&to={chosen.last_day}")
    page.wait_for_selector("body[data-loaded=true]", timeout=15_000)
    before = live_visitors(page)
    assert before >= 0
    for number in range(3):
        hit = httpx.get(
            f"{beacon_stack.collector_url}/p.gif",
            params={"site": live_site, "url": "https://shop.example/live", "aid": f"live-visitor-{number}"},
            headers={"User-Agent": BROWSER_USER_AGENT},
        )
        assert hit.status_code == 200
    page.wait_for_function(
        "expected => Number(document.querySelector('#live-visitors').dataset.value) >= expected",
        arg=before + 3,
        timeout=20_000,
    )
    assert problems == []

    context.close()
