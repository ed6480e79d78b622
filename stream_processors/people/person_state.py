"""What the stream keeps per person (a faust table entry, bytes): their progress in each funnel, and their
email messages and purchases.

Encoded as compact JSON:
``{"f": {funnel_id: [version, step, sequence, settled_step, [[ms, step, key], …]]},
"e": [[campaign_id, message_id, version, [[ms, name, fetcher, url, key], …]], …], "p": [[ms, key, revenue], …],
"c": [the customer profile, ``profiles/profile_state.py``]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from stream_processors.email.email_deliveries import EmailMessage, EmailTouch, PersonEmail, Purchase
from stream_processors.funnels.funnel_progress import FunnelProgress
from stream_processors.profiles.profile_state import PROFILE_KEY, ProfileState, decode_profile, encode_profile


@dataclass(frozen=True, slots=True)
class PersonState:
    funnels: dict[str, FunnelProgress] = field(default_factory=dict)
    email: PersonEmail = field(default_factory=PersonEmail)
    profile: ProfileState | None = None

    @property
    def empty(self) -> bool:
        return not self.funnels and not self.email.messages and not self.email.purchases and self.profile is None


def encode_person_state(state: PersonState) -> bytes:
    document: dict[str, object] = {}
    if state.funnels:
        document["f"] = {
            funnel_id: [p.version, p.step, p.sequence, p.settled_step, [list(entry) for entry in p.entries]]
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
    return orjson.dumps(document)


def decode_person_state(stored: bytes) -> PersonState:
    document = orjson.loads(stored)
    funnels = {
        funnel_id: FunnelProgress(
            version, step, sequence, settled, tuple((ms, entry_step, key) for ms, entry_step, key in entries)
        )
        for funnel_id, (version, step, sequence, settled, entries) in document.get("f", {}).items()
    }
    messages = tuple(
        EmailMessage(campaign_id, message_id, version, tuple(EmailTouch(*touch) for touch in touches))
        for campaign_id, message_id, version, touches in document.get("e", ())
    )
    purchases = tuple(Purchase(ms, key, revenue) for ms, key, revenue in document.get("p", ()))
    profile = decode_profile(document[PROFILE_KEY]) if PROFILE_KEY in document else None
    return PersonState(funnels, PersonEmail(messages, purchases), profile)
