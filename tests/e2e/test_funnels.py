"""Funnels kept by the running stream equal ClickHouse's windowFunnel over the stored events (after each person's
latest exclusion event, for a funnel with exclusions), for generated traffic with duplicates and late deliveries;
and the CLI that defines and shows them."""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.funnels import FunnelDefinition, funnel_yaml
from stack.settings import StackSettings
from tests.support.cli import beacon_against
from tests.support.funnels import (
    assert_funnels_equal_window_funnel,
    assert_journey_equals_sql,
    install_funnels,
    sql_furthest_steps,
    traffic_funnels,
)
from tests.support.polling import wait_until
from tests.support.sites import register_site
from tests.support.traffic import recent_traffic, send_and_store


def test_funnels_in_the_stream_equal_window_funnel_over_the_events(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="funnels")
    funnels = traffic_funnels(site.site_id)
    install_funnels(beacon_stack, funnels)
    send_and_store(beacon_stack, clickhouse, site, recent_traffic(seed=23, visitors=80))

    assert_funnels_equal_window_funnel(clickhouse, funnels)
    assert_journey_equals_sql(clickhouse, site.site_id)  # (every site has the built-in customer journey)
    [self_serve] = [funnel for funnel in funnels if funnel.exclusions]
    without_exclusions = sql_furthest_steps(clickhouse, self_serve.model_copy(update={"exclusions": ()}))
    assert sql_furthest_steps(clickhouse, self_serve) != without_exclusions, "a chat or the support page starts over"

    shown = beacon_against(beacon_stack, "funnels", "show", funnels[0].funnel_id, "--counts")
    assert shown.returncode == 0, shown.stderr
    counts = [line.split("│")[3:5] for line in shown.stdout.splitlines() if line.startswith("│ ")]
    assert len(counts) == 3
    assert all(sql.strip() == stream.strip() and sql.strip() != "0" for sql, stream in counts), shown.stdout


def test_the_cli_adds_lists_shows_and_removes_funnels(beacon_stack: StackSettings, tmp_path: Path) -> None:
    [buying, *_] = traffic_funnels("cli")
    funnel = FunnelDefinition.model_validate({**buying.model_dump(), "exclusions": [{"event": "refund_requested"}]})
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
        return any(
            "cli-buying" in line and "refund_requested" in line and "running" in line
            for line in listed.stdout.splitlines()
        )

    wait_until(listed_as_running, what="the worker to run the added funnel", timeout_seconds=30)
    sql = beacon_against(beacon_stack, "funnels", "show", "cli-buying", "--sql")
    assert "windowFunnel(1800000)" in sql.stdout
    assert "position(url, '/products/') > 0" in sql.stdout
    assert "WHERE (event_name = 'refund_requested')" in sql.stdout
    assert "event_time > excluded_at" in sql.stdout
    shown = beacon_against(beacon_stack, "funnels", "show", "cli-buying")
    assert "exclusions:\n- event: refund_requested\n" in shown.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text(funnel_yaml(funnel).replace("window: 30m", "window: forever"))
    refused = beacon_against(beacon_stack, "funnels", "add", str(broken), "--replace")
    assert refused.returncode == 1
    assert "window" in refused.stderr

    removed = beacon_against(beacon_stack, "funnels", "remove", "cli-buying")
    assert removed.returncode == 0, removed.stderr
    assert "cli-buying" not in beacon_against(beacon_stack, "funnels", "list").stdout
