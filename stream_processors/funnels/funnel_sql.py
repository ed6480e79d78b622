"""The ClickHouse query that computes a funnel from ``beacon.events``: what the stream keeps on the fly.

``./beacon funnels show ID --sql`` prints it, the analyst guide explains it, and the end-to-end tests compare
the stream's ``beacon.funnel_progress`` with its result.
"""

from __future__ import annotations

from schemas.funnels import FunnelDefinition, FunnelOrder
from stream_processors.matching.match_sql import match_sql, person_events_sql


def furthest_steps_sql(funnel: FunnelDefinition) -> str:
    """One row per person who reached step 1 or further: ``(person_id, furthest_step)``."""
    mode = ", 'strict_order'" if funnel.order is FunnelOrder.STRICT else ""
    steps = ",\n        ".join(match_sql(step) for step in funnel.steps)
    return f"""SELECT
    person_id,
    windowFunnel({funnel.window_ms}{mode})(
        toUInt64(toUnixTimestamp64Milli(event_time)),
        {steps}
    ) AS furthest_step
FROM {person_events_sql(funnel.site_id)}
WHERE person_id != ''
GROUP BY person_id
HAVING furthest_step > 0"""


def step_counts_sql(funnel: FunnelDefinition) -> str:
    """How many people reached each step or further: ``(step, people)``, the funnel chart."""
    return f"""SELECT step, countIf(furthest_step >= step) AS people
FROM ({furthest_steps_sql(funnel)})
ARRAY JOIN range(1, {len(funnel.steps) + 1}) AS step
GROUP BY step
ORDER BY step"""
