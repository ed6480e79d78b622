"""Generated traffic through the whole running stack: every planned event stored once, none refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.email import EmailTokens
from schemas.traffic import TrafficSettings
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.cli import beacon_against
from tests.support.polling import wait_until
from tests.support.sites import register_site


def test_generated_traffic_arrives_exactly_once_at_its_true_time(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="traffic")
    settings = TrafficSettings(
        seed=7, visitors=40, start=datetime.now(UTC) - timedelta(hours=3), hours=2,
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
    report = send_traffic(planned, target)
    assert report.refused == []
    distinct, emails = expected_events(planned)

    stored = (
        "SELECT uniqExactIf(event_id, source != 'email'), countIf(source = 'email') FROM beacon.events FINAL"
        " WHERE site_id = {s:String} AND user_id != 'registry-probe'"
    )

    def counts() -> tuple[int, int]:
        row = clickhouse.query(stored, parameters={"s": site.site_id}).result_rows[0]
        return int(row[0]), int(row[1])

    wait_until(lambda: counts() == (distinct, emails), what=f"{distinct} events and {emails} email interactions")
    refused = "SELECT count() FROM beacon.dead_letters WHERE site_id = {s:String}"
    assert clickhouse.query(refused, parameters={"s": site.site_id}).result_rows == [(0,)]
    # Late deliveries and client clocks do not move events: each is stored at the time it happened.
    times = "SELECT toString(event_id), event_time FROM beacon.events FINAL WHERE site_id = {s:String}"
    rows = clickhouse.query(times, parameters={"s": site.site_id}).result_rows
    stored_at = {event_id: moment.replace(tzinfo=UTC) for event_id, moment in rows}
    for event in planned:
        if str(event.event_id) in stored_at:
            assert abs(stored_at[str(event.event_id)] - event.occurred_at) < timedelta(seconds=2), event.name


def test_the_demo_traffic_command_fills_the_demo_site(beacon_stack: StackSettings, clickhouse: Client) -> None:
    sent = beacon_against(beacon_stack, "demo", "traffic", "--visitors", "8", "--seed", "3", "--hours", "2")
    assert sent.returncode == 0, sent.stderr
    assert "distinct events" in sent.stdout
    # The same seed plans the same events (ids included), whatever the start time.
    planned = plan_traffic("demo", TrafficSettings(seed=3, visitors=8, start=datetime.now(UTC), hours=2))
    distinct, _ = expected_events(planned)
    sql = "SELECT uniqExact(event_id) FROM beacon.events WHERE site_id = 'demo' AND source != 'email'"
    wait_until(
        lambda: clickhouse.query(sql).result_rows == [(distinct,)], what=f"the demo site's {distinct} generated events"
    )
