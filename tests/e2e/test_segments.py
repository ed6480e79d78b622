"""Live segments kept by the running stream equal their SQL over the stored events at the same moment, for
generated traffic with duplicates and late deliveries; every entry and exit on a segment's topic is
consistent with it; and the CLI that defines and shows them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.client import Client

from runtime.definitions import DefinitionFolder
from schemas.segments import Change, SegmentChange, SegmentDefinition, segment_yaml
from stack.segment_admin import members_now, running_segments
from stack.settings import StackSettings
from tests.support.cli import beacon_against
from tests.support.polling import wait_until
from tests.support.sites import register_site
from tests.support.traffic import recent_traffic, send_and_store

ROOT = Path(__file__).resolve().parents[2]


def _segments(site_id: str) -> list[SegmentDefinition]:
    definitions = [
        {"segment_id": "abandoned", "rules": [
            {"did": {"event": "add_to_cart"}, "then_not": {"event": ["Order Completed", "identify"]},
             "within": "10m", "in_last": "1d"}]},
        {"segment_id": "keen", "rules": [{"count": {"event": "product_viewed"}, "at_least": 2, "in_last": "2h"}]},
        {"segment_id": "mobile-recent", "rules": [
            {"seen_within": "90m"}, {"attribute": "device_type", "is": "mobile"}]},
        {"segment_id": "lapsed", "rules": [{"not_seen_for": "2h"}]},
    ]  # fmt: skip
    return [
        SegmentDefinition.model_validate({**plan, "site_id": site_id, "segment_id": f"{site_id}-{plan['segment_id']}"})
        for plan in definitions
    ]


def _topic_changes(bootstrap: str, segment: SegmentDefinition) -> list[SegmentChange]:
    async def read() -> list[SegmentChange]:
        consumer = AIOKafkaConsumer(segment.topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=3000)
            return [
                SegmentChange.model_validate_json(record.value or b"") for batch in batches.values() for record in batch
            ]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_segments_in_the_stream_equal_their_sql_and_the_topics_agree(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    site = register_site(beacon_stack, prefix="segments")
    segments = _segments(site.site_id)
    folder = DefinitionFolder(beacon_stack.definitions_dir)
    for segment in segments:
        folder.write_segment(segment)
    worker = f"http://{beacon_stack.host}:{beacon_stack.stream_web_port}"
    wait_until(
        lambda: all((running_segments(worker) or {}).get(s.segment_id) == s.version for s in segments),
        what="the stream worker to run the segments",
        timeout_seconds=30,
    )
    send_and_store(beacon_stack, clickhouse, site, recent_traffic(seed=41, visitors=80, email_share=0.3))

    for segment in segments:  # (windows slide while this runs: poll until the stream has caught up with now)
        deadline = time.monotonic() + 60
        while (members := members_now(clickhouse, segment)).in_sql != members.in_stream:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{segment.segment_id}: only in SQL {sorted(members.in_sql - members.in_stream)[:5]}, "
                    f"only in the stream {sorted(members.in_stream - members.in_sql)[:5]}"
                )
            time.sleep(0.5)
        assert members.in_sql, f"{segment.segment_id} has members"

        by_person: dict[str, list[SegmentChange]] = defaultdict(list)
        for change in _topic_changes(beacon_stack.kafka_address, segment):
            by_person[change.person_id].append(change)
        for person, changes in by_person.items():
            distinct_changes = {change.sequence: change for change in changes}  # (a re-delivery repeats one)
            ordered = [distinct_changes[number] for number in sorted(distinct_changes)]
            assert [change.sequence for change in ordered] == list(range(1, len(ordered) + 1)), person
            assert [change.change for change in ordered] == [
                Change.ENTERED if number % 2 else Change.EXITED for number in range(1, len(ordered) + 1)
            ], f"{person}: every exit follows an entry, nobody enters twice"
            assert (ordered[-1].change is Change.ENTERED) == (person in members.in_stream), person

    # Each person's customer profile names the segments they are in, as the memberships say.
    def memberships_by_profile() -> dict[str, set[str]]:
        rows = clickhouse.query(
            "SELECT person_id, segments FROM beacon.customer_profiles FINAL WHERE site_id = {s:String}",
            parameters={"s": site.site_id},
        ).result_rows
        return {person: set(ids) for person, ids in rows if ids}

    def memberships_by_segment() -> dict[str, set[str]]:
        by_person: dict[str, set[str]] = defaultdict(set)
        for segment in segments:
            for person in members_now(clickhouse, segment).in_stream:
                by_person[person].add(segment.segment_id)
        return dict(by_person)

    wait_until(lambda: memberships_by_profile() == memberships_by_segment(), what="profiles naming their segments")

    # A marketing tool's side: the example consumer acts once on each entry and exit of a segment's topic.
    consumer = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "segment_consumer.py"), segments[1].segment_id,
         "--bootstrap", beacon_stack.kafka_address, "--group", f"example-{site.site_id}", "--exit-when-idle", "3"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert consumer.returncode == 0, consumer.stderr
    entered = {line.split()[1] for line in consumer.stdout.splitlines() if line.startswith("entered")}
    exited = {line.split()[1] for line in consumer.stdout.splitlines() if line.startswith("exited")}
    assert entered, consumer.stdout
    assert entered - exited <= members_now(clickhouse, segments[1]).in_stream | exited


def test_the_cli_adds_lists_shows_and_removes_segments(beacon_stack: StackSettings, tmp_path: Path) -> None:
    [segment, *_] = _segments("cli")
    source = tmp_path / "abandoned.yaml"
    source.write_text(segment_yaml(segment))
    added = beacon_against(beacon_stack, "segments", "add", str(source))
    assert added.returncode == 0, added.stderr
    assert "beacon.segment.cli-abandoned" in added.stdout
    again = beacon_against(beacon_stack, "segments", "add", str(source))
    assert again.returncode == 1
    assert "use --replace" in again.stderr

    def listed_as_running() -> bool:
        listed = beacon_against(beacon_stack, "segments", "list")
        return any("cli-abandoned" in line and "running" in line for line in listed.stdout.splitlines())

    wait_until(listed_as_running, what="the worker to run the added segment", timeout_seconds=30)
    sql = beacon_against(beacon_stack, "segments", "show", "cli-abandoned", "--sql")
    assert "arrayExists(d -> d + 600000 <= T" in sql.stdout
    shown = beacon_against(beacon_stack, "segments", "show", "cli-abandoned", "--members")
    assert "0 differ" in shown.stdout, shown.stdout + shown.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(segment_yaml(segment).replace("within: 10m", "within: later"))
    refused = beacon_against(beacon_stack, "segments", "add", str(broken), "--replace")
    assert refused.returncode == 1
    assert "within" in refused.stderr
    assert beacon_against(beacon_stack, "segments", "remove", "cli-abandoned").returncode == 0
    assert "cli-abandoned" not in beacon_against(beacon_stack, "segments", "list").stdout
