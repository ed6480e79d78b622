"""What the stream keeps per person (a faust table entry, bytes): their progress in each funnel, and their
email messages and purchases.

Encoded as compact JSON:
``{"f": {funnel_id: [version, step, sequence, settled_step, [[ms, step, key], …](, excluded_ms)]},
"e": [[campaign_id, message_id, version, [[ms, name, fetcher, url, key], …]], …], "p": [[ms, key, revenue], …],
"c": [the customer profile, ``profiles/profile_state.py``],
"s": {"t": {match_key: [[ms, key], …]}, "l": last_seen_ms, "a": {attribute: [ms, key, value]},
"m": {segment_id: [version, member, sequence]}},
"j": [version, stage, sequence, {criterion: [[ms, key], …]}]}`` (the customer journey).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from stream_processors.email.email_deliveries import EmailMessage, EmailTouch, PersonEmail, Purchase
from stream_processors.funnels.funnel_progress import FunnelProgress
from stream_processors.journeys.journey_progress import JourneyProgress
from stream_processors.profiles.profile_state import PROFILE_KEY, ProfileState, decode_profile, encode_profile
from stream_processors.segments.segment_tracking import Membership, PersonSegments


@dataclass(frozen=True, slots=True)
class PersonState:
    funnels: dict[str, FunnelProgress] = field(default_factory=dict)
    email: PersonEmail = field(default_factory=PersonEmail)
    profile: ProfileState | None = None
    segments: PersonSegments = field(default_factory=PersonSegments)
    journey: JourneyProgress | None = None

    @property
    def empty(self) -> bool:
        email = self.email.messages or self.email.purchases
        others = self.profile is None and self.journey is None
        return not self.funnels and not email and others and self.segments.empty


def encode_person_state(state: PersonState) -> bytes:
    document: dict[str, object] = {}
    if state.funnels:
        document["f"] = {
            funnel_id: [p.version, p.step, p.sequence, p.settled_step, [list(entry) for entry in p.entries]]
            + ([] if p.excluded_ms is None else [p.excluded_ms])  # (most people's progress has no exclusion)
            for funnel_id, p in state.funnels.items()
        }
    if state.email.messages:
        document["e"] = [
            [m.campaign_id, m.message_id, m.version, [[t.ms, t.name, t.fetcher, t.url, t.key] for t in m.touches]]
            for m in state.email.messages
        ]
    if state.email.purchases:
        document["p"] = [[p.ms, p.key, p.revenue] for p in state.email.purchases]
    if state.profile is not None:
        document[PROFILE_KEY] = encode_profile(state.profile)
    if not state.segments.empty:
        document["s"] = _encode_segments(state.segments)
    if state.journey is not None:
        journey = state.journey
        document["j"] = [
            journey.version,
            journey.stage,
            journey.sequence,
            {k: [list(i) for i in v] for k, v in journey.kept.items()},
        ]
    return orjson.dumps(document)


def decode_person_state(stored: bytes) -> PersonState:
    document = orjson.loads(stored)
    funnels = {
        funnel_id: FunnelProgress(
            version, step, sequence, settled, tuple((ms, entry_step, key) for ms, entry_step, key in entries), *excluded
        )
        for funnel_id, (version, step, sequence, settled, entries, *excluded) in document.get("f", {}).items()
    }
    messages = tuple(
        EmailMessage(campaign_id, message_id, version, tuple(EmailTouch(*touch) for touch in touches))
        for campaign_id, message_id, version, touches in document.get("e", ())
    )
    purchases = tuple(Purchase(ms, key, revenue) for ms, key, revenue in document.get("p", ()))
    profile = decode_profile(document[PROFILE_KEY]) if PROFILE_KEY in document else None
    segments = _decode_segments(document["s"]) if "s" in document else PersonSegments()
    journey = None
    if "j" in document:
        version, stage, sequence, kept = document["j"]
        journey = JourneyProgress(
            version, stage, sequence, {k: tuple((ms, key) for ms, key in v) for k, v in kept.items()}
        )
    return PersonState(funnels, PersonEmail(messages, purchases), profile, segments, journey)


def _encode_segments(segments: PersonSegments) -> dict[str, object]:
    return {
        "t": {key: [list(item) for item in kept] for key, kept in segments.times.items()},
        "l": segments.last_seen_ms,
        "a": {name: list(value) for name, value in segments.attributes.items()},
        "m": {segment_id: [m.version, m.member, m.sequence] for segment_id, m in segments.memberships.items()},
    }


def _decode_segments(document: dict[str, Any]) -> PersonSegments:
    return PersonSegments(
        times={key: tuple((ms, event_key) for ms, event_key in kept) for key, kept in document["t"].items()},
        last_seen_ms=document["l"],
        attributes={name: (ms, event_key, value) for name, (ms, event_key, value) in document["a"].items()},
        memberships={
            segment_id: Membership(version, member, sequence)
            for segment_id, (version, member, sequence) in document["m"].items()
        },
    )
