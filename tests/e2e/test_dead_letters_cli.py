"""`./beacon dead-letters list|replay`: hits refused for an unknown site count once the site exists, and a
replayed hit joins its visitor's partition of the raw hits, where the stream worker keeps the visitor's state."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from clickhouse_connect.driver.client import Client

from schemas.topics import RAW_HITS, raw_hits_partition
from stack.settings import StackSettings
from stack.site_admin import create_site
from tests.support.cli import beacon_against
from tests.support.polling import wait_until


def test_replaying_after_the_fix_delivers_each_hit_once(beacon_stack: StackSettings, clickhouse: Client) -> None:
    site_id = site_placed_elsewhere_by_default()
    domain = f"{site_id}.example"
    raw_hits_before = asyncio.run(raw_hits_end_offsets(beacon_stack.kafka_address))
    for page in range(3):
        url = f"https://{domain}/{page}"
        httpx.get(f"{beacon_stack.collector_url}/p.gif", params={"site": site_id, "url": url, "aid": site_id})
    refused = "SELECT count() FROM beacon.dead_letters FINAL WHERE site_id = {s:String} AND reason = 'unknown_site'"
    wait_until(lambda: clickhouse.command(refused, parameters={"s": site_id}) == 3, what="three refused hits")

    listed = beacon_against(beacon_stack, "dead-letters", "list", "--site", site_id)
    assert listed.returncode == 0, listed.stderr
    assert "unknown_site" in listed.stdout
    assert "│ 3 " in listed.stdout or " 3 " in listed.stdout

    assert beacon_against(beacon_stack, "dead-letters", "replay").returncode == 2, "replaying everything needs a filter"
    asyncio.run(create_site(beacon_stack.kafka_address, site_id=site_id, name="Late", domains=[domain]))
    for _ in range(2):  # twice: the second replay must change nothing
        replayed = beacon_against(beacon_stack, "dead-letters", "replay", "--site", site_id, "--reason", "unknown_site")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 3" in replayed.stdout
    events = "SELECT count() FROM beacon.events FINAL WHERE site_id = {s:String}"
    wait_until(lambda: clickhouse.command(events, parameters={"s": site_id}) == 3, what="the replayed hits as events")

    # The same visitor comes back once the collector knows the site: its hit goes out through the collector.
    wait_until(lambda: collector_allows(beacon_stack, domain), what="the collector to load the new site")
    live = {"site": site_id, "url": f"https://{domain}/back", "aid": site_id, "eid": str(uuid.uuid4())}
    httpx.get(f"{beacon_stack.collector_url}/p.gif", params=live)
    wait_until(lambda: clickhouse.command(events, parameters={"s": site_id}) == 4, what="the live hit as an event")

    key = f"{site_id}:{site_id}".encode()
    partitions = asyncio.run(partitions_of(beacon_stack.kafka_address, key, raw_hits_before))
    assert len(partitions) == 2 * 3 + 1, "two replays of three hits, and the live hit"
    assert set(partitions) == {raw_hits_partition(key)}, "replayed and live hits of one visitor on one partition"


def site_placed_elsewhere_by_default() -> str:
    """A site id whose visitor (anonymous id = site id) aiokafka's default partitioner, which the replay once
    used, puts on another partition than the collector does: as 7 visitors in 8, but every time."""
    partitions = list(range(RAW_HITS.partitions))
    while True:
        site_id = f"late-{uuid.uuid4().hex[:8]}"
        key = f"{site_id}:{site_id}".encode()
        if DefaultPartitioner()(key, partitions, partitions) != raw_hits_partition(key):
            return site_id


def collector_allows(stack: StackSettings, domain: str) -> bool:
    """A CORS preflight from the site's domain: allowed once the collector has loaded the site."""
    headers = {"Origin": f"https://{domain}", "Access-Control-Request-Method": "POST"}
    return httpx.options(f"{stack.collector_url}/api/events", headers=headers).status_code == 204


async def raw_hits_end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(RAW_HITS.name, number) for number in range(RAW_HITS.partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def partitions_of(bootstrap: str, key: bytes, since: dict[TopicPartition, int]) -> list[int]:
    """The partition of every raw hit with ``key`` written after the offsets ``since``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        ends = await consumer.end_offsets(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        found: list[int] = []
        unread = set(since)
        while unread:
            for partition, records in (await consumer.getmany(*unread, timeout_ms=1000)).items():
                found.extend(partition.partition for record in records if record.key == key)
            unread = {partition for partition in unread if await consumer.position(partition) < ends[partition]}
        return found
    finally:
        await consumer.stop()
