"""What the stream keeps of a person's profile (part of the person's state; ``people/person_state.py``).

Totals, the earliest and latest moments, and two bounded memories that make counting exact however events are
delivered: ``recent_ids``, the ids of the counted events processed within the dedup period (a re-delivered
event is found there and counted once), and ``recent_sessions``, the sessions seen within it (a session is
counted when first seen). Both are keyed by the stream time at which they were last seen, and let go once the
partition's stream time has moved on by more than the period (or the person's state is swept).

Encoded as one compact JSON list (``encode_profile`` / ``decode_profile``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

import orjson

_FORMAT = 1
PROFILE_KEY = "c"  # the profile's place in the person's state document (people/person_state.py)


class Acquisition(NamedTuple):
    """The person's first event in a session: when, which (the tie-break), and how they came."""

    ms: int
    event_id: str  # str(UUID), so ties in time are broken as SQL breaks them (toString(event_id))
    channel: str
    referrer_host: str
    utm_source: str
    utm_medium: str
    utm_campaign: str


@dataclass(frozen=True, slots=True)
class ProfileCounts:
    """The figures that are sums over events: each event counted once, thanks to ``recent_ids``."""

    page_views: int = 0
    emails_sent: int = 0
    email_opens: int = 0
    email_clicks: int = 0
    chat_events: int = 0
    chat_conversations: int = 0
    purchases: int = 0
    revenue: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ProfileState:
    partition: int  # of beacon.events: the worker that owns it owns this state
    last_active_ms: int  # the partition's stream time when this person last changed
    version: int = 0  # profile versions emitted
    user_id: str = ""
    first_ms: int = 0  # 0: none yet
    last_ms: int = 0
    acquisition: Acquisition | None = None
    anonymous_ids: dict[str, int] = field(default_factory=dict)  # id -> its earliest event time
    sessions: int = 0
    counts: ProfileCounts = field(default_factory=ProfileCounts)
    first_purchase_ms: int = 0
    last_purchase_ms: int = 0
    recent_ids: dict[str, int] = field(default_factory=dict)  # counted event id -> stream time when seen
    recent_sessions: dict[str, int] = field(default_factory=dict)  # session id -> stream time when last seen
    journey_stage: str = ""  # the customer-journey stage's name ('' before the first stage)
    segments: tuple[str, ...] = ()  # the live segments the person is in, by id, sorted

    @property
    def swept(self) -> bool:
        """Nothing recent is remembered: only the totals are left (the sweeper's view)."""
        return not self.recent_ids and not self.recent_sessions


class ProfileHeader(NamedTuple):
    """What the sweeper needs of a stored person state, read without decoding the profile."""

    partition: int
    last_active_ms: int
    swept: bool


def profile_header(stored: bytes) -> ProfileHeader | None:
    """The header of the profile in a stored person state; None for a person with no profile."""
    profile = orjson.loads(stored).get(PROFILE_KEY)
    if profile is None:
        return None
    return ProfileHeader(profile[1], profile[2], not profile[13] and not profile[14])


def encode_profile(state: ProfileState) -> list[Any]:
    counts = state.counts
    return [
        _FORMAT, state.partition, state.last_active_ms, state.version, state.user_id, state.first_ms, state.last_ms,
        list(state.acquisition) if state.acquisition is not None else None,
        state.anonymous_ids, state.sessions,
        [counts.page_views, counts.emails_sent, counts.email_opens, counts.email_clicks, counts.chat_events,
         counts.chat_conversations, counts.purchases, str(counts.revenue)],
        state.first_purchase_ms, state.last_purchase_ms, state.recent_ids, state.recent_sessions, state.journey_stage,
        list(state.segments),
    ]  # fmt: skip


def decode_profile(document: list[Any]) -> ProfileState:
    (
        version_format,
        partition,
        last_active_ms,
        version,
        user_id,
        first_ms,
        last_ms,
        acquisition,
        anonymous_ids,
        sessions,
        counts,
        first_purchase_ms,
        last_purchase_ms,
        recent_ids,
        recent_sessions,
        *later,
    ) = document  # fmt: skip  (states written before the journey stage, or the segments, have none)
    if version_format != _FORMAT:
        raise ValueError(f"profile state format {version_format} is not {_FORMAT}")
    page_views, emails_sent, email_opens, email_clicks, chat_events, chat_conversations, purchases, revenue = counts
    return ProfileState(
        partition, last_active_ms, version, user_id, first_ms, last_ms,
        Acquisition(*acquisition) if acquisition is not None else None, anonymous_ids, sessions,
        ProfileCounts(
            page_views, emails_sent, email_opens, email_clicks, chat_events, chat_conversations, purchases,
            Decimal(revenue),
        ),
        first_purchase_ms, last_purchase_ms, recent_ids, recent_sessions, later[0] if later else "",
        tuple(later[1]) if len(later) > 1 else (),
    )  # fmt: skip
