"""Token buckets: a burst, then the sustained rate; the wait is exact; memory stays bounded."""

from __future__ import annotations

import math

from collector.rate_limits import RateLimits, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds_and_the_wait_is_exact() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_second=2, burst=10, clock=clock)
    assert buckets.take("ip", 10) == 0.0
    assert buckets.take("ip", 1) == 0.5  # one token comes back every half second
    clock.now += 0.5
    assert buckets.take("ip", 1) == 0.0
    assert buckets.take("other-ip", 10) == 0.0, "every key has its own bucket"


def test_a_request_larger_than_the_burst_can_never_pass() -> None:
    assert math.isinf(TokenBuckets(rate_per_second=100, burst=50).take("ip", 51))


def test_the_number_of_keys_is_bounded() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_second=1, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c", "d"):
        assert buckets.take(key) == 0.0
    assert buckets.take("a") == 0.0, "'a' was forgotten, so it starts with a full bucket again"
    assert buckets.take("d") > 0.0


def test_per_ip_and_per_site_limits_both_apply() -> None:
    clock = Clock()
    limits = RateLimits(
        per_ip=TokenBuckets(rate_per_second=100, burst=100, clock=clock),
        per_site=TokenBuckets(rate_per_second=1, burst=5, clock=clock),
    )
    assert limits.retry_after("1.1.1.1", "shop", 5) == 0.0
    assert limits.retry_after("2.2.2.2", "shop", 1) == 1.0, "the site's budget is shared by every IP"
    assert limits.retry_after("2.2.2.2", "blog", 1) == 0.0


def test_server_side_callers_spend_only_the_sites_budget() -> None:
    limits = RateLimits(
        per_ip=TokenBuckets(rate_per_second=1, burst=1), per_site=TokenBuckets(rate_per_second=100, burst=100)
    )
    assert limits.retry_after(None, "shop", 50) == 0.0
    assert math.isinf(limits.retry_after("10.0.0.1", "shop", 50))
