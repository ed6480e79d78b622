"""A person's profile, advanced by each of their events in any order (pure).

Every figure is either a minimum or maximum (first and last seen, the acquisition event, purchase times), a
bounded set (anonymous ids), or a count that an event adds to once: counted events are remembered by id for
``ProfileRules.dedup_ms`` of stream time (the highest receipt time seen on the partition), which is how long
after its first copy a re-delivered event is still recognised. Sessions are counted when first seen, and
remembered for the same period after they were last seen (a session's events come within its idle timeout).

A new ``CustomerProfile`` version is made only when a figure changes: page pings and bot events are not part
of profiles, a duplicate or a late event that changes nothing makes no version.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from schemas.events import NO_SESSION, Event
from schemas.profiles import PURCHASE_EVENTS, CustomerProfile, RfmThresholds, average_order_value, revenue_of
from stream_processors.matching.event_match import counts_for_person
from stream_processors.profiles.profile_state import Acquisition, ProfileCounts, ProfileState
from stream_processors.visitors.track_event import milliseconds

PAGE_VIEW_EVENTS = frozenset({"page_view", "screen_view"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class ProfileRules:
    rfm: RfmThresholds = field(default_factory=RfmThresholds)
    # How long (stream time) counted event ids and sessions are remembered: a duplicate delivered later than
    # this after its first copy counts again. It must exceed the longest session idle timeout.
    dedup_ms: int = 24 * HOUR_MS
    max_recent: int = 4096  # a bound on each memory, whatever the rate: beyond, the oldest go first
    max_anonymous_ids: int = 20  # the earliest seen are kept


def track_profile(
    state: ProfileState | None,
    event: Event,
    rules: ProfileRules,
    stream_time_ms: int,
    partition: int,
    now: datetime,
    journey_stage: str = "",
    segments: tuple[str, ...] = (),
) -> tuple[ProfileState | None, CustomerProfile | None]:
    """The state with ``event`` counted (the same object if nothing changed), and the new profile version if a
    figure changed. ``stream_time_ms``: the highest receipt time seen on the event's partition; ``journey_stage``
    and ``segments``: the person's customer-journey stage and live segments with the event counted."""
    if not counts_for_person(event):
        return state, None
    before = state if state is not None else ProfileState(partition, stream_time_ms)
    added = _counted(event)
    key = event.event_id.hex
    forget_before = stream_time_ms - rules.dedup_ms
    if added is not None and before.recent_ids.get(key, forget_before - 1) >= forget_before:
        if journey_stage == before.journey_stage and segments == before.segments:
            return state, None  # a re-delivered event
        added = None  # (counted already; only the journey moved, as under a new journey definition)
    recent_ids = _recent(before.recent_ids, forget_before, rules.max_recent)
    if added is not None:
        recent_ids[key] = stream_time_ms
    recent_sessions, sessions = _recent(before.recent_sessions, forget_before, rules.max_recent), before.sessions
    if event.session_id != NO_SESSION:
        session = event.session_id.hex
        sessions += session not in recent_sessions
        recent_sessions[session] = stream_time_ms
    ms = milliseconds(event.event_time)
    purchase_ms = ms if added is not None and added.purchases else 0
    after = replace(
        before,
        partition=partition,
        last_active_ms=stream_time_ms,
        user_id=event.user_id,
        first_ms=min(before.first_ms or ms, ms),
        last_ms=max(before.last_ms, ms),
        acquisition=_earliest_visit(before.acquisition, event, ms),
        anonymous_ids=_anonymous_ids(before.anonymous_ids, event.anonymous_id, ms, rules.max_anonymous_ids),
        sessions=sessions,
        counts=_sum(before.counts, added) if added is not None else before.counts,
        first_purchase_ms=min(before.first_purchase_ms or purchase_ms, purchase_ms or before.first_purchase_ms),
        last_purchase_ms=max(before.last_purchase_ms, purchase_ms),
        recent_ids=recent_ids,
        recent_sessions=recent_sessions,
        journey_stage=journey_stage,
        segments=segments,
    )
    if state is not None and _figures(after) == _figures(state):
        return after, None
    after = replace(after, version=before.version + 1)
    return after, profile_of(event.site_id, event.person_id, after, rules.rfm, now)


def profile_in_segments(
    state: ProfileState, segments: tuple[str, ...], site_id: str, person_id: str, rfm: RfmThresholds, now: datetime
) -> tuple[ProfileState, CustomerProfile | None]:
    """The profile with the person's live segments as they are now, when time alone changed them (a segment's
    timer, not an event): a new version if they differ."""
    if segments == state.segments:
        return state, None
    after = replace(state, segments=segments, version=state.version + 1)
    return after, profile_of(site_id, person_id, after, rfm, now)


def sweep_profile(state: ProfileState) -> ProfileState:
    """What an idle person's profile keeps once nothing recent can be re-delivered: the totals."""
    return replace(state, recent_ids={}, recent_sessions={})


def profile_of(site_id: str, person_id: str, state: ProfileState, rfm: RfmThresholds, now: datetime) -> CustomerProfile:
    counts = state.counts
    acquisition = state.acquisition or Acquisition(0, "", "", "", "", "", "")
    return CustomerProfile(
        site_id=site_id,
        person_id=person_id,
        version=state.version,
        user_id=state.user_id,
        anonymous_ids=tuple(sorted(state.anonymous_ids, key=lambda known: (state.anonymous_ids[known], known))),
        first_seen=_moment(state.first_ms),
        last_seen=_moment(state.last_ms),
        acquisition_channel=acquisition.channel,
        acquisition_referrer_host=acquisition.referrer_host,
        acquisition_utm_source=acquisition.utm_source,
        acquisition_utm_medium=acquisition.utm_medium,
        acquisition_utm_campaign=acquisition.utm_campaign,
        sessions=state.sessions,
        returning=state.sessions > 1,
        page_views=counts.page_views,
        emails_sent=counts.emails_sent,
        email_opens=counts.email_opens,
        email_clicks=counts.email_clicks,
        chat_events=counts.chat_events,
        chat_conversations=counts.chat_conversations,
        purchases=counts.purchases,
        revenue=counts.revenue,
        average_order_value=average_order_value(counts.revenue, counts.purchases),
        first_purchase_at=_moment(state.first_purchase_ms) if counts.purchases else None,
        last_purchase_at=_moment(state.last_purchase_ms) if counts.purchases else None,
        frequency_score=rfm.frequency_score(counts.purchases),
        monetary_score=rfm.monetary_score(counts.purchases, counts.revenue),
        rfm_recency_days=rfm.recency_days,
        journey_stage=state.journey_stage,
        segments=state.segments,
        updated_at=now,
    )


def _counted(event: Event) -> ProfileCounts | None:
    """What the event adds to the sums; None if it adds nothing (so its id need not be remembered)."""
    name = event.event_name
    if name in PAGE_VIEW_EVENTS:
        return ProfileCounts(page_views=1)
    if name == "email_sent":
        return ProfileCounts(emails_sent=1)
    if name == "email_opened":
        return ProfileCounts(email_opens=1)
    if name == "email_clicked":
        return ProfileCounts(email_clicks=1)
    if name.startswith("chat_"):
        return ProfileCounts(chat_events=1, chat_conversations=int(name == "chat_conversation_started"))
    if name in PURCHASE_EVENTS:
        revenue = revenue_of(event.properties.get("revenue", ""))
        return ProfileCounts(purchases=1, revenue=revenue) if revenue is not None else None
    return None


def _sum(counts: ProfileCounts, added: ProfileCounts) -> ProfileCounts:
    return ProfileCounts(
        counts.page_views + added.page_views,
        counts.emails_sent + added.emails_sent,
        counts.email_opens + added.email_opens,
        counts.email_clicks + added.email_clicks,
        counts.chat_events + added.chat_events,
        counts.chat_conversations + added.chat_conversations,
        counts.purchases + added.purchases,
        counts.revenue + added.revenue,
    )


def _recent(seen: dict[str, int], forget_before_ms: int, limit: int) -> dict[str, int]:
    kept = {key: at for key, at in seen.items() if at >= forget_before_ms}
    if len(kept) >= limit:  # (room for one more)
        kept = dict(sorted(kept.items(), key=lambda item: item[1])[len(kept) - limit + 1 :])
    return kept


def _earliest_visit(acquisition: Acquisition | None, event: Event, ms: int) -> Acquisition | None:
    """The first event in a session (by time, then id, as SQL's argMin over (event_time, toString(event_id)))."""
    if event.session_id == NO_SESSION:
        return acquisition
    event_id = str(event.event_id)
    if acquisition is not None and (acquisition.ms, acquisition.event_id) <= (ms, event_id):
        return acquisition
    return Acquisition(
        ms, event_id, event.channel.value, event.referrer_host, event.utm_source, event.utm_medium, event.utm_campaign
    )


def _anonymous_ids(known: dict[str, int], anonymous_id: str, ms: int, limit: int) -> dict[str, int]:
    """Each id with its earliest event time; beyond ``limit``, the ids seen earliest are kept."""
    if not anonymous_id or known.get(anonymous_id, ms + 1) <= ms:
        return known
    ids = {**known, anonymous_id: ms}
    if len(ids) > limit:
        ids = dict(sorted(ids.items(), key=lambda item: (item[1], item[0]))[:limit])
    return ids


def _figures(state: ProfileState) -> tuple[object, ...]:
    """What a profile row shows (everything but the bookkeeping)."""
    return (
        state.user_id, state.first_ms, state.last_ms, state.acquisition, state.anonymous_ids, state.sessions,
        state.counts, state.first_purchase_ms, state.last_purchase_ms, state.journey_stage, state.segments,
    )  # fmt: skip


def _moment(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)
