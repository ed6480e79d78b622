"""Funnels kept by the running stream equal ClickHouse's windowFunnel over the stored events, for generated
traffic with duplicates and late deliveries; and the CLI that defines and shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.email import EmailTokens
from schemas.funnels import funnel_yaml
from schemas.traffic import TrafficSettings
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.cli import beacon_against
from tests.support.funnels import (
    assert_funnels_equal_window_funnel,
    assert_journey_equals_sql,
    install_funnels,
    traffic_funnels,
)
from tests.support.polling import wait_until
from tests.support.sites import register_site


def test_funnels_in_the_stream_equal_window_funnel_over_the_events(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="funnels")
    funnels = traffic_funnels(site.site_id)
    install_funnels(beacon_stack, funnels)
    traffic = TrafficSettings(
        seed=23, visitors=80, start=datetime.now(UTC) - timedelta(hours=3), hours=2,
        duplicate_rate=0.1, late_rate=0.1, email_share=1.0,
    )  # fmt: skip
    planned = plan_traffic(site.site_id, traffic)
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

    assert_funnels_equal_window_funnel(clickhouse, funnels)
    assert_journey_equals_sql(clickhouse, site.site_id)  # (every site has the built-in customer journey)

    shown = beacon_against(beacon_stack, "funnels", "show", funnels[0].funnel_id, "--counts")
    assert shown.returncode == 0, shown.stderr
    counts = [line.split("│")[3:5] for line in shown.stdout.splitlines() if line.startswith("│ ")]
    assert len(counts) == 3
    assert all(sql.strip() == stream.strip() and sql.strip() != "0" for sql, stream in counts), shown.stdout


def test_the_cli_adds_lists_shows_and_removes_funnels(beacon_stack: StackSettings, tmp_path: Path) -> None:
    [funnel, *_] = traffic_funnels("cli")
    source = tmp_path / "buying.yaml"
    source.write_text(funnel_yaml(funnel))

    added = beacon_against(beacon_stack, "funnels", "add", str(source))
    assert added.returncode == 0, added.stderr
    assert funnel.version in added.stdout
    again = beacon_against(beacon_stack, "funnels", "add", str(source))
    assert again.returncode == 1
    assert "use --replace" in again.stderr

    def listed_as_running() -> bool:
        listed = beacon_against(beacon_stack, "funnels", "list")
        return any("cli-buying" in line and "running" in line for line in listed.stdout.splitlines())

    wait_until(listed_as_running, what="the worker to run the added funnel", timeout_seconds=30)
    sql = beacon_against(beacon_stack, "funnels", "show", "cli-buying", "--sql")
    assert "windowFunnel(1800000)" in sql.stdout
    assert "position(url, '/products/') > 0" in sql.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text(funnel_yaml(funnel).replace("window: 30m", "window: forever"))
    refused = beacon_against(beacon_stack, "funnels", "add", str(broken), "--replace")
    assert refused.returncode == 1
    assert "window" in refused.stderr

    removed = beacon_against(beacon_stack, "funnels", "remove", "cli-buying")
    assert removed.returncode == 0, removed.stderr
    assert "cli-buying" not in beacon_against(beacon_stack, "funnels", "list").stdout
