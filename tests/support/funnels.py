"""Funnels for the end-to-end tests: definitions over the traffic generator's events, installed on a running
stack, and the check that the stream's furthest steps equal ClickHouse's windowFunnel over the stored events."""

from __future__ import annotations

import time
from pathlib import Path

from clickhouse_connect.driver.client import Client

from runtime.definitions import DefinitionFolder
from schemas.funnels import FunnelDefinition, load_funnel_file
from schemas.journeys import JOURNEY_FUNNEL_ID, default_journey
from stack.funnel_admin import running_funnels
from stack.settings import StackSettings
from stream_processors.funnels.funnel_sql import furthest_steps_sql
from stream_processors.journeys.journey_sql import journey_stages_sql
from tests.support.polling import wait_until

SHIPPED_FUNNELS = Path(__file__).resolve().parents[2] / "config" / "funnels"


def traffic_funnels(site_id: str) -> list[FunnelDefinition]:
    """Sequential and strict funnels, names and property filters, over what stack.traffic_plan sends, and the
    shipped demo funnel with exclusions; their ids start with the site's (ids are unique in a definitions folder)."""
    definitions = [
        {"funnel_id": "buying", "window": "30m",
         "steps": [{"name": "Product page", "event": "page_view", "where": {"url": {"contains": "/products/"}}},
                   {"name": "Cart", "event": "add_to_cart"},
                   {"name": "Signed in", "event": ["identify", "Order Completed"]}]},
        {"funnel_id": "chat-strict", "window": "10m", "order": "strict",
         "steps": [{"name": "Started", "event": "chat_conversation_started"},
                   {"name": "Asked", "event": "chat_message_sent"},
                   {"name": "Ended", "event": "chat_conversation_ended"}]},
        {"funnel_id": "newsletter", "window": "7d",
         "steps": [{"name": "Sent", "event": "email_sent"},
                   {"name": "Opened", "event": "email_opened"},
                   {"name": "Clicked", "event": "email_clicked",
                    "where": {"utm_campaign": "autumn-newsletter"}}]},
        {"funnel_id": "two-skus", "window": "1h",
         "steps": [{"name": "Viewed", "event": "product_viewed", "where": {"properties.sku": ["sku-1", "sku-2"]}}]},
    ]  # fmt: skip
    shipped = [load_funnel_file(SHIPPED_FUNNELS / "demo-self-serve.yaml").model_dump()]  # (with exclusions)
    return [
        FunnelDefinition.model_validate({**plan, "site_id": site_id, "funnel_id": f"{site_id}-{plan['funnel_id']}"})
        for plan in definitions + shipped
    ]


def install_funnels(stack: StackSettings, funnels: list[FunnelDefinition]) -> None:
    """Write them to the stack's definitions folder; return once its stream worker runs them."""
    folder = DefinitionFolder(stack.definitions_dir)
    for funnel in funnels:
        folder.write_funnel(funnel)

    def loaded() -> bool:
        running = running_funnels(f"http://{stack.host}:{stack.stream_web_port}") or {}
        return all(running.get(funnel.funnel_id) == funnel.version for funnel in funnels)

    wait_until(loaded, what="the stream worker to load the funnels", timeout_seconds=30)


def stream_furthest_steps(clickhouse: Client, funnel: FunnelDefinition) -> dict[str, int]:
    rows = clickhouse.query(
        "SELECT person_id, step FROM beacon.funnel_progress WHERE site_id = {s:String} AND funnel_id = {f:String}"
        " AND funnel_version = {v:String} AND step > 0",
        parameters={"s": funnel.site_id, "f": funnel.funnel_id, "v": funnel.version},
    ).result_rows
    return dict(rows)


def sql_furthest_steps(clickhouse: Client, funnel: FunnelDefinition) -> dict[str, int]:
    return dict(clickhouse.query(furthest_steps_sql(funnel)).result_rows)


def assert_funnels_equal_window_funnel(clickhouse: Client, funnels: list[FunnelDefinition]) -> None:
    """Once the stream has caught up, every person's step equals windowFunnel's, in every funnel."""
    for funnel in funnels:
        deadline = time.monotonic() + 60
        while (stream := stream_furthest_steps(clickhouse, funnel)) != (sql := sql_furthest_steps(clickhouse, funnel)):
            if time.monotonic() > deadline:
                differences = {
                    person: (stream.get(person, 0), sql.get(person, 0))
                    for person in sorted(stream.keys() | sql.keys())
                    if stream.get(person, 0) != sql.get(person, 0)
                }
                raise AssertionError(
                    f"funnel {funnel.funnel_id}: {len(differences)} people differ (stream, windowFunnel), e.g. "
                    f"{dict(list(differences.items())[:5])}"
                )
            time.sleep(0.5)
        assert len(sql) >= 3, f"funnel {funnel.funnel_id}: too few people to mean something ({sql})"
        if len(funnel.steps) > 1:
            assert max(sql.values()) > 1, f"funnel {funnel.funnel_id}: nobody went past step 1"
    repeated = clickhouse.query(
        "SELECT count() FROM (SELECT funnel_id, person_id, sequence, uniqExact(to_step) AS steps"
        " FROM beacon.funnel_transitions WHERE site_id = {s:String}"
        " GROUP BY funnel_id, person_id, sequence HAVING steps > 1)",
        parameters={"s": funnels[0].site_id},
    ).result_rows
    assert repeated == [(0,)], "a transition's sequence number means one change, also when re-delivered"


def assert_journey_equals_sql(clickhouse: Client, site_id: str) -> None:
    """Every person's customer-journey stage in the stream equals the count query over their events."""
    journey = default_journey(site_id)
    in_stream = (
        "SELECT person_id, step FROM beacon.funnel_progress WHERE site_id = {s:String} AND funnel_id = {f:String}"
        " AND funnel_version = {v:String} AND step > 0"
    )
    parameters = {"s": site_id, "f": JOURNEY_FUNNEL_ID, "v": journey.version}
    deadline = time.monotonic() + 60
    while (stream := dict(clickhouse.query(in_stream, parameters=parameters).result_rows)) != (
        sql := dict(clickhouse.query(journey_stages_sql(journey)).result_rows)
    ):
        if time.monotonic() > deadline:
            differ = {p: (stream.get(p), sql.get(p)) for p in stream.keys() | sql.keys() if stream.get(p) != sql.get(p)}
            raise AssertionError(f"journey: {len(differ)} people differ (stream, SQL), e.g. {list(differ.items())[:5]}")
        time.sleep(0.5)
    assert len(set(sql.values())) >= 3, f"the traffic reaches several stages: {sorted(set(sql.values()))}"
