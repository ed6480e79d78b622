"""When to try a webhook again, and when to give up (pure).

A delivery is retried after a connection error, a timeout, 408, 429 and any 5xx, with exponential backoff
and jitter ("equal jitter": half the step fixed, half random, so retries of many changes spread out but never
come at once), waiting at least what the destination asked for in ``Retry-After``. It is given up after
``max_attempts`` attempts, or when the next attempt would come more than ``give_up_after_seconds`` after the
first. Any other answer (a 4xx, a redirect) will not get better by itself: it is rejected at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Answer:
    """The destination answered."""

    status: int
    retry_after: str | None = None  # the Retry-After header, as sent
    excerpt: str = ""  # the beginning of the answer's body, for the dead letter


@dataclass(frozen=True)
class Unreachable:
    """No answer: the connection failed or the attempt timed out."""

    error: str


Outcome = Answer | Unreachable


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


def judge(outcome: Outcome) -> Verdict:
    if isinstance(outcome, Unreachable):
        return Verdict.RETRY
    if 200 <= outcome.status < 300:
        return Verdict.DELIVERED
    if outcome.status in RETRIED_STATUSES or outcome.status >= 500:
        return Verdict.RETRY
    return Verdict.REJECTED


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Unreachable):
        return f"unreachable: {outcome.error}"
    excerpt = f": {outcome.excerpt}" if outcome.excerpt else ""
    return f"HTTP {outcome.status}{excerpt}"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: a number of seconds or an HTTP date; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    give_up_after_seconds: float = 3600.0
    first_retry_seconds: float = 1.0
    max_retry_seconds: float = 300.0

    def backoff_seconds(self, failed_attempts: int, random: Callable[[], float]) -> float:
        """The wait after ``failed_attempts`` failures: the step doubles from ``first_retry_seconds`` up to
        ``max_retry_seconds``, and the wait is between half the step and the step."""
        step = min(self.max_retry_seconds, self.first_retry_seconds * 2.0 ** (failed_attempts - 1))
        return step / 2 + random() * step / 2

    def next_attempt_in(
        self, failed_attempts: int, elapsed_seconds: float, retry_after: float | None, random: Callable[[], float]
    ) -> float | None:
        """Seconds to wait before the next attempt, or None: give up. ``elapsed_seconds`` since the first."""
        if failed_attempts >= self.max_attempts:
            return None
        wait = self.backoff_seconds(failed_attempts, random)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if elapsed_seconds + wait > self.give_up_after_seconds:
            return None
        return wait
