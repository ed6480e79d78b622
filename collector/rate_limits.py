"""Token-bucket rate limits, per client IP and per site, held in the collector's memory.

Each collector limits what it receives itself; with N collectors behind a balancer the effective limit is
N times the setting. Keys are bounded in number (least recently seen forgotten first), so a flood of
spoofed keys cannot grow memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class TokenBuckets:
    def __init__(
        self,
        rate_per_second: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens of ``key``'s bucket: 0.0 if allowed, else the seconds to wait for them."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        else:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated_at) * self._rate)
            bucket.updated_at = now
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        if cost > self._burst:
            return math.inf  # can never pass in one piece
        return (cost - bucket.tokens) / self._rate


@dataclass(frozen=True)
class RateLimits:
    per_ip: TokenBuckets
    per_site: TokenBuckets

    def retry_after(self, ip: str | None, site_id: str, events: int) -> float:
        """0.0 when ``events`` more events for ``site_id`` (from ``ip``) are allowed now, else seconds to wait.

        Server-side callers pass no IP: a back end behind NAT is one IP for many users, and its write key
        already names the site whose budget it spends.
        """
        wait = self.per_ip.take(ip, events) if ip is not None else 0.0
        if wait:
            return wait
        return self.per_site.take(site_id, events)
