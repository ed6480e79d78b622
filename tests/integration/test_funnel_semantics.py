"""The stream's funnel step equals ClickHouse's own ``windowFunnel``, asked over its HTTP interface, on thousands
of random event sequences: ties, events matching several steps, windows of zero, strict order."""

from __future__ import annotations

import random

import pytest
from clickhouse_connect.driver.client import Client

from stream_processors.funnels.window_funnel import StepEntry, furthest_step

CASES_PER_QUERY = 400

Row = tuple[int, frozenset[int]]  # an event: its time, and the steps it matches


def _random_case(rng: random.Random, steps: int) -> list[Row]:
    length = rng.randint(0, 12)
    span = rng.choice([3, 10, 40])
    return [
        (rng.randint(0, span), frozenset(s for s in range(1, steps + 1) if rng.random() < 0.3)) for _ in range(length)
    ]


def _entries(rows: list[Row], strict: bool) -> list[StepEntry]:
    entries = [(time, step, str(number)) for number, (time, matched) in enumerate(rows) for step in matched]
    if strict:
        entries += [(time, 0, str(number)) for number, (time, matched) in enumerate(rows) if not matched]
    return sorted(entries, key=lambda entry: entry[:2])


@pytest.mark.parametrize("strict", [False, True], ids=["sequential", "strict"])
@pytest.mark.parametrize("steps", [1, 2, 3, 5])
@pytest.mark.parametrize("window", [0, 4, 25])
def test_furthest_step_equals_window_funnel(clickhouse: Client, steps: int, window: int, strict: bool) -> None:
    rng = random.Random(f"{steps}-{window}-{strict}")
    cases = [_random_case(rng, steps) for _ in range(CASES_PER_QUERY)]
    rows = [
        f"({case_number}, {time}, [{','.join(map(str, sorted(matched)))}])"
        for case_number, case in enumerate(cases)
        for time, matched in case
    ]
    conditions = ", ".join(f"has(m, {step})" for step in range(1, steps + 1))
    mode = ", 'strict_order'" if strict else ""
    query = f"""
        SELECT c, windowFunnel({window}{mode})(t, {conditions})
        FROM values('c UInt32, t UInt64, m Array(UInt8)', {", ".join(rows)})
        GROUP BY c"""
    clickhouse_steps = dict(clickhouse.query(query).result_rows)

    for case_number, case in enumerate(cases):
        ours = furthest_step(_entries(case, strict), steps, window, strict=strict).step
        assert ours == clickhouse_steps.get(case_number, 0), (case, ours, clickhouse_steps.get(case_number, 0))
