"""What every collector route shares: which site a hit belongs to, and where it goes (raw hits or dead letters).

Counting happens here, once, so ``beacon_collector_hits_total`` means the same for every route.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from collector.errors import CollectorError
from collector.hit_sink import DurableHitSink
from collector.rate_limits import RateLimits
from runtime.site_registry import SiteRegistry
from schemas.dead_letters import DeadLetter, DropReason
from schemas.events import HitSource, RawHit
from schemas.sites import Site
from stream_processors.normalize.steps import Drop

HITS = Counter("beacon_collector_hits_total", "Hits received, by source and outcome", ["source", "outcome"])
REJECTED = Counter("beacon_collector_rejected_total", "Hits sent to dead letters by the collector", ["reason"])


class Intake:
    def __init__(self, sink: DurableHitSink, registry: SiteRegistry, limits: RateLimits) -> None:
        self.sink = sink
        self.registry = registry
        self.limits = limits

    def throttle(self, ip: str | None, site_id: str, events: int) -> tuple[Drop, float] | None:
        """None if these events are within the limits, else a ``rate_limited`` drop and the seconds to wait."""
        wait = self.limits.retry_after(ip, site_id, events)
        if not wait:
            return None
        retry = "never in one request: send fewer events at once" if math.isinf(wait) else f"retry in {wait:.1f} s"
        detail = f"{events} events for {site_id}{f' from {ip}' if ip else ''} exceed the rate limit; {retry}"
        return Drop(DropReason.RATE_LIMITED, detail), wait

    def ensure_sites_loaded(self) -> None:
        """JSON APIs answer 503 (their senders retry) until the registry was read from the broker or a snapshot."""
        if not self.registry.loaded:
            raise CollectorError(
                503, "starting", "the collector has not loaded the site registry yet; retry", retry_after_seconds=5
            )

    def site_named(self, site_id: str) -> Site | Drop:
        """The active site a browser-side hit names, or why it cannot be accepted."""
        if not site_id:
            return Drop(DropReason.MISSING_SITE_ID, "the site id is required")
        if not self.registry.loaded:
            return Drop(DropReason.SITES_NOT_LOADED, "the collector had not loaded the site registry yet")
        site = self.registry.get(site_id)
        if site is None:
            return Drop(DropReason.UNKNOWN_SITE, f"no active site {site_id[:64]!r}")
        return site

    def check_at_the_door(self, hit: RawHit) -> Drop | None:
        """For hits that name their site themselves (pixels): the site must be active and within its limits."""
        site = self.site_named(hit.site_id)
        if isinstance(site, Drop):
            return site
        limited = self.throttle(hit.ip, hit.site_id, 1)
        return limited[0] if limited is not None else None

    def site_of_write_key(self, write_key: str) -> Site | None:
        return self.registry.authenticate(write_key, datetime.now(UTC)) if write_key else None

    async def accept(self, source: HitSource, hits: Sequence[RawHit]) -> None:
        """Forward to the raw-hits topic; returns once the broker or the spool has every one of them."""
        if hits:
            await self.sink.send_hits(hits)
            _hits(source, "accepted").inc(len(hits))

    def accept_nowait(self, source: HitSource, hit: RawHit) -> None:
        """Like ``accept`` for one hit, without waiting for the broker's ack (the pixel cannot report errors)."""
        self.sink.send_hit_nowait(hit)
        _hits(source, "accepted").inc()

    async def reject(self, source: HitSource, letters: Sequence[DeadLetter]) -> None:
        if letters:
            await self.sink.send_dead_letters(letters)
            _hits(source, "rejected").inc(len(letters))
            for letter in letters:
                REJECTED.labels(letter.reason.value).inc()

    @staticmethod
    def count_failure(source: HitSource, count: int = 1) -> None:
        _hits(source, "failed").inc(count)


@functools.cache
def _hits(source: HitSource, outcome: str) -> Any:
    """The counter's child, looked up once (``labels()`` costs a lock and a dict per hit)."""
    return HITS.labels(source.value, outcome)
