"""Generated traffic for the end-to-end tests: planned, sent through the running collector as real clients
send it, and waited for until every event is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.email import EmailTokens
from schemas.traffic import PlannedEvent, TrafficSettings
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite

STORED = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String} AND user_id != 'registry-probe'"


def recent_traffic(seed: int, visitors: int, **settings: float) -> TrafficSettings:
    """Two hours of traffic ending an hour ago, with 10% client retries and 10% late deliveries by default."""
    chosen: dict[str, float] = {"duplicate_rate": 0.1, "late_rate": 0.1, "email_share": 1.0, **settings}
    return TrafficSettings.model_validate(
        {"seed": seed, "visitors": visitors, "start": datetime.now(UTC) - timedelta(hours=3), "hours": 2, **chosen}
    )


def target_of(stack: StackSettings, site: RegisteredSite) -> TrafficTarget:
    return TrafficTarget(
        collector_url=stack.collector_url,
        site_id=site.site_id,
        write_key=site.write_key,
        origin="https://shop.example",
        email_tokens=EmailTokens(email_signing_keys(stack.home).split(",")),
    )


def send_and_store(
    stack: StackSettings, clickhouse: Client, site: RegisteredSite, traffic: TrafficSettings
) -> list[PlannedEvent]:
    """Plan the traffic, send all of it, and return once every distinct event is in ``beacon.events``."""
    planned = plan_traffic(site.site_id, traffic)
    assert send_traffic(planned, target_of(stack, site)).refused == []
    wait_for_stored(clickhouse, site.site_id, sum(expected_events(planned)))
    return planned


def wait_for_stored(clickhouse: Client, site_id: str, count: int) -> None:
    wait_until(
        lambda: clickhouse.query(STORED, parameters={"s": site_id}).result_rows == [(count,)],
        what=f"{count} events",
        timeout_seconds=120,
    )
