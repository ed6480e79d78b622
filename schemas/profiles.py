"""Customer profiles: one row per person (a known user, else an anonymous visitor), kept on the fly.

A ``CustomerProfile`` is a version of a person's profile: ``beacon.customer_profiles`` (ReplacingMergeTree by
``version``) and a Kafka record keyed by person. Its figures are what SQL over the person's events in
``beacon.events`` gives (``stream_processors/profiles/profile_sql.py`` prints that query): the events that are
not page pings and not flagged as bots. RFM: frequency and monetary scores are set by the stream from the
site's thresholds (``RfmThresholds``, carried in each row); recency is measured when queried, by the view
``beacon.customer_rfm``, from ``last_purchase_at`` and the row's ``rfm_recency_days``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Events that count as a purchase when they carry a ``revenue`` property (Segment's ecommerce spec names the
# order). The same names make a session a conversion (stream_processors/visitors/track_event.py).
PURCHASE_EVENTS = frozenset({"Order Completed", "order_completed", "purchase"})
# A revenue is a plain decimal number; anything else ("1e3", "12 EUR", "") makes no purchase. ClickHouse parses
# it as ``toDecimal128(revenue, 6)``, which cuts further decimals toward zero: so does ``revenue_of``.
REVENUE_PATTERN = r"^-?[0-9]{1,18}(\.[0-9]{1,18})?$"
REVENUE_SCALE = 6
_REVENUE = re.compile(REVENUE_PATTERN)
_QUANTUM = Decimal(1).scaleb(-REVENUE_SCALE)

# The RFM segment of a customer by recency and frequency scores (the common R x F grid, as in Kaggle's "RFM
# segmentation" notebooks): 'RF' -> name; ``rfm_segment`` and the view's SQL both read it.
RFM_SEGMENTS: tuple[tuple[str, str], ...] = (
    (r"[1-2][1-2]", "hibernating"),
    (r"[1-2][3-4]", "at_risk"),
    (r"[1-2]5", "cannot_lose_them"),
    (r"3[1-2]", "about_to_sleep"),
    (r"33", "need_attention"),
    (r"[3-4][4-5]", "loyal_customers"),
    (r"41", "promising"),
    (r"51", "new_customers"),
    (r"[4-5][2-3]", "potential_loyalists"),
    (r"5[4-5]", "champions"),
)
NO_PURCHASE_SEGMENT = "prospect"


def revenue_of(text: str) -> Decimal | None:
    """The revenue a property holds, as ClickHouse's ``toDecimal128(text, 6)`` reads it; None if not a number."""
    if _REVENUE.match(text) is None:
        return None
    try:
        return Decimal(text).quantize(_QUANTUM, rounding=ROUND_DOWN)
    except InvalidOperation:  # (the pattern admits only numbers; kept for safety)
        return None


class RfmThresholds(BaseModel):
    """Where each RFM score starts (1 to 5), four ascending bounds each; per site in ``config/profiles/``.

    - recency: days since the last purchase, up to ``recency_days[0]`` scores 5, up to ``[1]`` 4, … beyond
      ``[3]`` 1 (measured when queried);
    - frequency: purchases, from ``purchases[0]`` scores 2, from ``[1]`` 3, … (one purchase scores 1);
    - monetary: revenue, from ``revenue[0]`` scores 2, … (less than ``revenue[0]`` scores 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency_days: tuple[int, int, int, int] = (30, 90, 180, 365)
    purchases: tuple[int, int, int, int] = (2, 3, 5, 8)
    revenue: tuple[Decimal, Decimal, Decimal, Decimal] = (Decimal(100), Decimal(250), Decimal(500), Decimal(1000))

    @field_validator("recency_days", "purchases", "revenue")
    @classmethod
    def _ascending(cls, bounds: Sequence[int | Decimal]) -> Sequence[int | Decimal]:
        if any(later <= earlier for earlier, later in itertools.pairwise(bounds)) or bounds[0] < 0:
            raise ValueError("four bounds, not negative, each greater than the one before")
        return bounds

    def frequency_score(self, purchases: int) -> int:
        return 0 if purchases == 0 else 1 + sum(purchases >= bound for bound in self.purchases)

    def monetary_score(self, purchases: int, revenue: Decimal) -> int:
        return 0 if purchases == 0 else 1 + sum(revenue >= bound for bound in self.revenue)

    def recency_score(self, days: int) -> int:
        return 5 - sum(days > bound for bound in self.recency_days)


def rfm_segment(recency_score: int, frequency_score: int) -> str:
    """The segment name of an R and an F score (1-5); ``prospect`` for people who bought nothing (0)."""
    if recency_score == 0 or frequency_score == 0:
        return NO_PURCHASE_SEGMENT
    cell = f"{recency_score}{frequency_score}"
    return next(name for pattern, name in RFM_SEGMENTS if re.fullmatch(pattern, cell))


class CustomerProfile(BaseModel):
    """A person's profile as it is now: ``beacon.customer_profiles``, and a Kafka record keyed by person.

    ``version`` counts the person's profile versions, so a record delivered twice is the same version (the
    table keeps the highest version per person)."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    person_id: str  # the user id when known, else the visitor id (as ``Event.person_id``)
    version: int
    user_id: str  # '' for an anonymous person
    anonymous_ids: tuple[str, ...]  # the anonymous ids (cookies) seen with this person, the earliest first
    first_seen: datetime
    last_seen: datetime
    acquisition_channel: str  # of the person's first event in a session (their first visit)
    acquisition_referrer_host: str
    acquisition_utm_source: str
    acquisition_utm_medium: str
    acquisition_utm_campaign: str
    sessions: int  # distinct sessions (visits)
    returning: bool  # more than one session
    page_views: int
    emails_sent: int
    email_opens: int
    email_clicks: int
    chat_events: int  # chat_* events
    chat_conversations: int  # chat_conversation_started events
    purchases: int
    revenue: Decimal = Field(decimal_places=REVENUE_SCALE)
    average_order_value: Decimal = Field(decimal_places=REVENUE_SCALE)
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    frequency_score: int  # 1-5, 0 without purchases
    monetary_score: int  # 1-5, 0 without purchases
    rfm_recency_days: tuple[int, int, int, int]  # the site's recency bounds when the row was made
    journey_stage: str  # the customer-journey stage's name ('' before the first stage)
    segments: tuple[str, ...] = ()  # the ids of the live segments the person is in now, sorted
    updated_at: datetime  # the stream worker's clock when this version was made

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.person_id}".encode()


def average_order_value(revenue: Decimal, purchases: int) -> Decimal:
    """Revenue per purchase, cut to 6 decimals toward zero as ClickHouse's Decimal division does."""
    if purchases == 0:
        return Decimal(0).quantize(_QUANTUM)
    return (revenue / purchases).quantize(_QUANTUM, rounding=ROUND_DOWN)


class SiteProfileSettings(BaseModel):
    """A site's own profile settings: ``config/profiles/<site_id>.yaml`` (sites without one use the defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site_id: str = Field(min_length=1, max_length=63)
    rfm: RfmThresholds = Field(default_factory=RfmThresholds)


def load_site_profile_settings(path: Path) -> SiteProfileSettings:
    """A site's profile settings from YAML; ``InvalidProfileSettingsError`` names the file and the bad field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SiteProfileSettings.model_validate(document)
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise InvalidProfileSettingsError(f"{path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc'])) or 'file'}: {item['msg']}" for item in error.errors())
        raise InvalidProfileSettingsError(f"{path}: {problems}") from None


class InvalidProfileSettingsError(ValueError):
    """A site's profile settings file that cannot be used; the message says which and why."""
