"""What the stream keeps per person (a faust table entry, bytes): their progress in each funnel.

Encoded as compact JSON: ``{"f": {funnel_id: [version, step, sequence, settled_step, [[ms, step, key], …]]}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from stream_processors.funnels.funnel_progress import FunnelProgress


@dataclass(frozen=True, slots=True)
class PersonState:
    funnels: dict[str, FunnelProgress] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.funnels


def encode_person_state(state: PersonState) -> bytes:
    funnels = {
        funnel_id: [p.version, p.step, p.sequence, p.settled_step, [list(entry) for entry in p.entries]]
        for funnel_id, p in state.funnels.items()
    }
    return orjson.dumps({"f": funnels})


def decode_person_state(stored: bytes) -> PersonState:
    document = orjson.loads(stored)
    return PersonState(
        funnels={
            funnel_id: FunnelProgress(
                version, step, sequence, settled, tuple((ms, entry_step, key) for ms, entry_step, key in entries)
            )
            for funnel_id, (version, step, sequence, settled, entries) in document.get("f", {}).items()
        }
    )
