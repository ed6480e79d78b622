"""The enrich pipeline's cost per event, in one process, without Kafka: warm caches and new User-Agents.

Events are cookieless pixel page views (normalized first, not timed) of visitors who each view about 8
pages from a random public IPv4 address, with the demo traffic's browsers, crawlers, referrers and campaign
URLs. "warm caches" repeats those User-Agents, as real traffic does (a few thousand a day, cached); "new
User-Agent" makes every one unique, so each is parsed and checked for bots from scratch. Rounds are
reported with their median and best (the least disturbed by other processes).

    .venv/bin/python -m benchmarks.enrich --events 20000 --rounds 9
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from uuid import UUID

from schemas.events import Event, HitSource, RawHit
from stack.traffic_plan import BROWSERS, CHANNELS, CRAWLERS, PAGES, SHOP
from stream_processors.enrich.context import EnrichContext
from stream_processors.enrich.ip_lookup import bundled_ip_lookup
from stream_processors.enrich.pipeline import enrich_event
from stream_processors.enrich.referrers import ReferrerList
from stream_processors.normalize.pipeline import normalize_hit

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EVENTS_PER_VISITOR = 8


def sample_events(count: int, *, unique_user_agents: bool, seed: int) -> list[tuple[Event, RawHit]]:
    """``count`` page views of visitors who each view about 8 pages, from their own public address."""
    rng = random.Random(seed)
    visitors = [
        (
            f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            rng.choice(BROWSERS + CRAWLERS),
            CHANNELS[rng.choice(tuple(CHANNELS))],
        )
        for _ in range(max(count // EVENTS_PER_VISITOR, 1))
    ]
    samples = []
    for number in range(count):
        ip, user_agent, (referrer, landing) = rng.choice(visitors)
        if unique_user_agents:
            user_agent = f"{user_agent} Build/{seed}.{number}"
        hit = RawHit(
            hit_id=UUID(int=number + 1),
            source=HitSource.PIXEL,
            received_at=RECEIVED,
            site_id="shop",
            query={"site": "shop", "url": f"{SHOP}{rng.choice(PAGES)}{landing}", "ref": referrer},
            ip=ip,
            user_agent=user_agent,
            referer="",
        )
        event = normalize_hit(hit)
        assert isinstance(event, Event), event
        samples.append((event, hit))
    return samples


def microseconds_per_event(samples: list[tuple[Event, RawHit]], context: EnrichContext) -> float:
    started = time.perf_counter()
    for event, hit in samples:
        enrich_event(event, hit, context)
    return (time.perf_counter() - started) / len(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    started = time.perf_counter()
    context = EnrichContext(bundled_ip_lookup(), ReferrerList.load(), visitor_salt_secret=b"benchmark secret" * 2)
    print(f"context loaded in {time.perf_counter() - started:.2f} s")
    warm = sample_events(arguments.events, unique_user_agents=False, seed=0)
    microseconds_per_event(warm, context)  # fills the caches
    for label, unique in (("warm caches", False), ("new User-Agent", True)):
        rounds = []
        for round_number in range(arguments.rounds):
            samples = (
                warm if not unique else sample_events(arguments.events, unique_user_agents=True, seed=round_number + 1)
            )
            rounds.append(microseconds_per_event(samples, context))
        figures = ", ".join(f"{figure:.1f}" for figure in rounds)
        print(f"{label}: median {statistics.median(rounds):.1f}, best {min(rounds):.1f} µs/event (rounds: {figures})")


if __name__ == "__main__":
    main()
