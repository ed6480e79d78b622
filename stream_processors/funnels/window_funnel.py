"""ClickHouse's ``windowFunnel`` level, computed the way ClickHouse computes it.

The stream must give the number an analyst gets from ``windowFunnel`` in SQL, ties and edge cases included,
so this follows ClickHouse's algorithm (``AggregateFunctionWindowFunnel.cpp``, default and ``strict_order``
modes) rather than a definition of our own: entries are sorted by (time, step); a first-step entry starts a
chain; an entry of step k extends the chain that reached k-1 if it is within the window of that chain's
start; one event matching several steps enters once per step, so it can take consecutive steps at once. In
strict order, an event that matches no step stops the search once a chain has started. A property test
compares this function with chDB's ``windowFunnel`` on random inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# (event time in ms, step 1..n, or 0 for an event matching no step (kept by strict funnels only), event key)
StepEntry = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class FunnelReach:
    step: int  # the furthest step reached: 0 for none
    reached_at_ms: int  # the event time at which it was first reached (0 with step 0)


NOT_STARTED = FunnelReach(0, 0)


def furthest_step(entries: Sequence[StepEntry], steps: int, window_ms: int, *, strict: bool) -> FunnelReach:
    """``windowFunnel(window_ms[, 'strict_order'])`` over ``entries``, which are sorted by (time, step)."""
    if not entries:
        return NOT_STARTED
    if not strict and steps == 1:
        return FunnelReach(1, entries[0][0])
    chain_start: list[int | None] = [None] * steps  # per step: the start time of the chain that reached it
    first_reached: list[int] = [0] * steps  # meaningful where chain_start is set
    started = False
    for time_ms, step, _ in entries:
        index = step - 1
        if index == -1:
            if strict and started:
                break
            continue
        if index == 0:
            if chain_start[0] is None:
                first_reached[0] = time_ms
            chain_start[0] = time_ms
            started = True
        elif strict and started and chain_start[index - 1] is None:
            level = next(level for level, start in enumerate(chain_start) if start is None)
            return FunnelReach(level, first_reached[level - 1] if level else 0)
        elif (start := chain_start[index - 1]) is not None and time_ms <= start + window_ms:
            if chain_start[index] is None:
                first_reached[index] = time_ms
            chain_start[index] = start
        else:
            continue
        if index + 1 == steps:
            return FunnelReach(steps, first_reached[index])
    for level in range(steps, 0, -1):
        if chain_start[level - 1] is not None:
            return FunnelReach(level, first_reached[level - 1])
    return NOT_STARTED
