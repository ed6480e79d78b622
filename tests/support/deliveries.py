"""How the stream may receive a person's events: out of order, some twice (as after a retry or a re-delivery)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

Item = TypeVar("Item")


def delivered_out_of_order(rng: random.Random, events: Sequence[Item], twice: int = 2) -> list[Item]:
    """``events`` shuffled, with ``twice`` of them (at most all) delivered a second time."""
    delivered = [*events, *rng.sample(list(events), k=min(twice, len(events)))]
    rng.shuffle(delivered)
    return delivered
