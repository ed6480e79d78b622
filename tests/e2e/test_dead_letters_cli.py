"""`./beacon dead-letters list|replay`: hits refused for an unknown site count once the site exists."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from clickhouse_connect.driver.client import Client

from stack.settings import StackSettings
from stack.site_admin import create_site
from tests.support.cli import beacon_against
from tests.support.polling import wait_until


def test_replaying_after_the_fix_delivers_each_hit_once(beacon_stack: StackSettings, clickhouse: Client) -> None:
    site_id = f"late-{uuid.uuid4().hex[:8]}"
    for page in range(3):
        url = f"https://late.example/{page}"
        httpx.get(f"{beacon_stack.collector_url}/p.gif", params={"site": site_id, "url": url, "aid": site_id})
    refused = "SELECT count() FROM beacon.dead_letters FINAL WHERE site_id = {s:String} AND reason = 'unknown_site'"
    wait_until(lambda: clickhouse.command(refused, parameters={"s": site_id}) == 3, what="three refused hits")

    listed = beacon_against(beacon_stack, "dead-letters", "list", "--site", site_id)
    assert listed.returncode == 0, listed.stderr
    assert "unknown_site" in listed.stdout
    assert "│ 3 " in listed.stdout or " 3 " in listed.stdout

    assert beacon_against(beacon_stack, "dead-letters", "replay").returncode == 2, "replaying everything needs a filter"
    asyncio.run(create_site(beacon_stack.kafka_address, site_id=site_id, name="Late", domains=["late.example"]))
    for _ in range(2):  # twice: the second replay must change nothing
        replayed = beacon_against(beacon_stack, "dead-letters", "replay", "--site", site_id, "--reason", "unknown_site")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 3" in replayed.stdout
    events = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String}"
    wait_until(lambda: clickhouse.command(events, parameters={"s": site_id}) == 3, what="the replayed hits as events")
