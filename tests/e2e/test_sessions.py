"""Sessions through the whole running stack equal the reference sessionizer's, computed from the stored events:
with duplicates and late, out-of-order deliveries, and with the stream worker killed (SIGKILL) mid-stream (then
funnels must equal windowFunnel over the events too, and customer profiles SQL over them)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from runtime.clickhouse import connect_clickhouse
from schemas.email import EmailTokens
from schemas.sessions import SessionRules
from schemas.traffic import PlannedEvent, TrafficSettings
from stack.email_keys import email_signing_keys
from stack.ephemeral import settings_on_free_ports
from stack.settings import StackSettings
from stack.site_admin import create_site
from stack.supervisor import LocalStack
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.cli import beacon_against
from tests.support.funnels import assert_funnels_equal_window_funnel, install_funnels, traffic_funnels
from tests.support.polling import wait_until
from tests.support.profiles import assert_profiles_equal_sql
from tests.support.sessions import collapsed_totals, reference_of, stored_events, stored_sessions
from tests.support.sites import RegisteredSite, register_site

ROOT = Path(__file__).resolve().parents[2]
RULES = SessionRules()  # the stack runs with the default session settings


def _traffic(site_id: str, seed: int, visitors: int) -> list[PlannedEvent]:
    settings = TrafficSettings(
        seed=seed, visitors=visitors, start=datetime.now(UTC) - timedelta(hours=3), hours=2,
        duplicate_rate=0.1, late_rate=0.1, email_share=1.0,
    )  # fmt: skip
    return plan_traffic(site_id, settings)


def _target(settings: StackSettings, site_id: str, write_key: str) -> TrafficTarget:
    return TrafficTarget(
        collector_url=settings.collector_url,
        site_id=site_id,
        write_key=write_key,
        origin="https://shop.example",
        email_tokens=EmailTokens(email_signing_keys(settings.home).split(",")),
    )


def _assert_sessions_equal_the_reference(clickhouse: Client, site_id: str, planned: list[PlannedEvent]) -> None:
    distinct, emails = expected_events(planned)
    stored = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String} AND user_id != 'registry-probe'"

    wait_until(
        lambda: clickhouse.query(stored, parameters={"s": site_id}).result_rows == [(distinct + emails,)],
        what=f"{distinct + emails} events",
        timeout_seconds=120,
    )
    events = stored_events(clickhouse, site_id)  # (with the registry probe's: they make sessions too)
    assert not [event for event in events if event.too_late], "every delivery was within the allowed lateness"
    reference = reference_of(events, RULES)
    assert len(reference) > 40, "the traffic has enough sessions to mean something"

    def settled() -> bool:
        return stored_sessions(clickhouse, site_id) == reference

    wait_until(settled, what="the stored sessions to equal the reference", timeout_seconds=60)
    assert collapsed_totals(clickhouse, site_id) == (
        len(reference),
        sum(session[COMPARED_PAGE_VIEWS] for session in reference.values()),
        sum(session[COMPARED_EVENTS] for session in reference.values()),
    )
    repeated = clickhouse.query(
        "SELECT count() FROM (SELECT session_id, version, sign FROM beacon.sessions WHERE site_id = {s:String}"
        " GROUP BY session_id, version, sign HAVING count() > 1)",
        parameters={"s": site_id},
    ).result_rows
    assert repeated == [(0,)], "no session row was written twice"


COMPARED_PAGE_VIEWS = 15
COMPARED_EVENTS = 16


def test_sessions_equal_the_reference_despite_duplicates_and_late_events(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="sessions")
    planned = _traffic(site.site_id, seed=11, visitors=60)
    report = send_traffic(planned, _target(beacon_stack, site.site_id, site.write_key))
    assert report.refused == []
    _assert_sessions_equal_the_reference(clickhouse, site.site_id, planned)
    # Identity: every buyer's anonymous id is linked to the user id its identify gave.
    buyers = {(event.visitor_id, event.user_id) for event in planned if event.name == "identify"}
    links = clickhouse.query(
        "SELECT identifier, user_id FROM beacon.identities FINAL WHERE site_id = {s:String} AND kind = 'anonymous'",
        parameters={"s": site.site_id},
    ).result_rows
    assert set(links) == buyers


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(settings_on_free_ports(tmp_path), workdir=ROOT)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_sessions_are_exact_after_the_stream_worker_is_killed_mid_stream(own_stack: LocalStack) -> None:
    settings = own_stack.settings
    site_id = "crash"
    _, write_key = asyncio.run(
        create_site(settings.kafka_address, site_id=site_id, name="Crash", domains=["shop.example"])
    )
    clickhouse = connect_clickhouse(settings.clickhouse_address)
    funnels = traffic_funnels(site_id)
    install_funnels(settings, funnels)  # the per-person stage's state and output survive the kill too
    planned = _traffic(site_id, seed=5, visitors=60)
    target = _target(settings, site_id, write_key)
    wait_until(lambda: send_traffic(planned[:1], target).refused == [], what="the site to be known")
    half = len(planned) // 2
    assert send_traffic(planned[1:half], target).refused == []
    processed = "SELECT count() FROM beacon.events WHERE site_id = 'crash'"
    wait_until(lambda: clickhouse.query(processed).result_rows[0][0] > half // 4, what="the worker to be busy")
    own_stack.kill_part("stream")  # mid-stream: its uncommitted input, changelog and output are cut anywhere
    assert send_traffic(planned[half:], target).refused == []
    own_stack.start_part("stream")
    _assert_sessions_equal_the_reference(clickhouse, site_id, planned)
    assert_funnels_equal_window_funnel(clickhouse, funnels)
    assert_profiles_equal_sql(clickhouse, site_id)


def _two_visits_five_minutes_apart(stack: StackSettings, site: RegisteredSite) -> None:
    now = datetime.now(UTC)
    batch = [
        {"type": "page", "anonymousId": "reader", "messageId": str(uuid.uuid4()),
         "timestamp": (now - timedelta(minutes=minutes)).isoformat(), "properties": {"url": "https://shop.example/"}}
        for minutes in (10, 5)
    ]  # fmt: skip
    answer = httpx.post(
        f"{stack.collector_url}/v1/batch", json={"batch": batch, "sentAt": now.isoformat()},
        auth=(site.write_key, ""), timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_each_site_can_have_its_own_session_rules(beacon_stack: StackSettings, clickhouse: Client) -> None:
    default_site = register_site(beacon_stack, prefix="rules-default")
    brisk_site = register_site(beacon_stack, prefix="rules-brisk")
    changed = beacon_against(beacon_stack, "sites", "sessions", brisk_site.site_id, "--idle-minutes", "2")
    assert changed.returncode == 0, changed.stderr
    assert "after 2 min idle" in changed.stdout
    shown = beacon_against(beacon_stack, "sites", "sessions", default_site.site_id)
    assert "the stream worker's session settings" in shown.stdout
    refused = beacon_against(beacon_stack, "sites", "sessions", brisk_site.site_id, "--time-zone", "Mars/Olympus")
    assert refused.returncode == 1
    time.sleep(2)  # the stream worker's registry follower polls the registry once a second
    for site in (default_site, brisk_site):
        _two_visits_five_minutes_apart(beacon_stack, site)
    sessions = "SELECT sum(sign) FROM beacon.sessions WHERE site_id = {s:String} AND visitor_id = 'reader'"

    def count(site: RegisteredSite) -> int:
        return int(clickhouse.query(sessions, parameters={"s": site.site_id}).result_rows[0][0] or 0)

    wait_until(lambda: (count(default_site), count(brisk_site)) == (1, 2), what="one visit, and two with 2 min idle")
