"""A replayed raw hit goes to the partition the collector gave its visitor's hits: the one holding its state."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner

from collector.hit_sink import partition_of, raw_hit_record
from collector.spool import SpooledRecord
from schemas.events import HitSource, RawHit
from schemas.topics import DEAD_LETTERS, RAW_HITS, raw_hits_partition

VISITORS = 10_000
SITES = ("shop", "docs-site", "blog", "late-3f9c2a1b", "news.example")


def visitor_ids(count: int, seed: int = 7) -> list[str]:
    """Anonymous ids as the browser tracker makes them (UUIDs), some user ids and email addresses."""
    generator = random.Random(seed)
    ids: list[str] = []
    for number in range(count):
        kind = number % 10
        if kind == 8:
            ids.append(f"user-{generator.randrange(10**6)}")
        elif kind == 9:
            ids.append(f"reader{generator.randrange(10**6)}@mail.example")
        else:
            ids.append(str(uuid.UUID(int=generator.getrandbits(128), version=4)))
    return ids


def live_hit(site_id: str, visitor: str, number: int) -> RawHit:
    """A hit as the collector builds it from a pixel request."""
    received = datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(seconds=number)
    return RawHit(
        hit_id=uuid.uuid4(), source=HitSource.PIXEL, received_at=received, site_id=site_id, visitor_key=visitor,
        query={"site": site_id, "aid": visitor, "url": f"https://{site_id}.example/{number}"},
        ip="203.0.113.7", user_agent="Mozilla/5.0", referer="",
    )  # fmt: skip


def replayed(hit: RawHit) -> RawHit:
    """A later hit of the same visitor, refused, kept in dead letters as JSON, and read back by the replay."""
    refused = hit.model_copy(update={"hit_id": uuid.uuid4(), "source": HitSource.SEGMENT, "body": '{"type":"track"}'})
    return RawHit.model_validate_json(refused.model_dump_json())


def test_a_replayed_hit_goes_to_the_partition_the_collector_sent_its_visitor_to() -> None:
    for number, visitor in enumerate(visitor_ids(VISITORS)):
        hit = live_hit(SITES[number % len(SITES)], visitor, number)
        # The collector's sink and the replay both produce raw_hit_record(...) through KafkaProducerSink.
        by_collector = partition_of(raw_hit_record(hit))
        by_replay = partition_of(raw_hit_record(replayed(hit)))
        assert by_replay == by_collector == raw_hits_partition(hit.partition_key()), hit.partition_key()


def test_every_partition_gets_a_fair_share_of_the_visitors() -> None:
    keys = [f"{SITES[number % len(SITES)]}:{visitor}".encode() for number, visitor in enumerate(visitor_ids(VISITORS))]
    counts = Counter(raw_hits_partition(key) for key in keys)
    assert set(counts) == set(range(RAW_HITS.partitions))
    expected = VISITORS / RAW_HITS.partitions
    assert all(0.85 * expected < count < 1.15 * expected for count in counts.values()), counts


def test_a_client_default_partitioner_would_put_most_visitors_elsewhere() -> None:
    """Why no producer of raw hits may leave the choice to its client: aiokafka's default (murmur2, as the
    Java client) is what `./beacon dead-letters replay` used, and disagrees for about 7 keys in 8."""
    partitions = list(range(RAW_HITS.partitions))
    keys = [f"shop:{visitor}".encode() for visitor in visitor_ids(VISITORS)]
    moved = sum(DefaultPartitioner()(key, partitions, partitions) != raw_hits_partition(key) for key in keys)
    assert moved > 0.8 * VISITORS


def test_dead_letters_are_left_to_the_client() -> None:
    record = SpooledRecord(DEAD_LETTERS.name, str(uuid.uuid4()).encode(), b"{}")
    assert partition_of(record) == -1
