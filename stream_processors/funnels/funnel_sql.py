"""The ClickHouse query that computes a funnel from ``beacon.events``: what the stream keeps on the fly, with
each person's events before their latest exclusion event left out.

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
FROM {_funnel_events_sql(funnel)}
GROUP BY person_id
HAVING furthest_step > 0"""


def _funnel_events_sql(funnel: FunnelDefinition) -> str:
    """The events the funnel sees: a person's events, only those after their latest exclusion event if any
    (``schemas.funnels``). The join's right side is Nullable, so a person without exclusions gets NULL."""
    events = person_events_sql(funnel.site_id)
    if not funnel.exclusions:
        return f"{events}\nWHERE person_id != ''"
    excluded = "\n       OR ".join(f"({match_sql(exclusion)})" for exclusion in funnel.exclusions)
    nested_events = events.replace("\n", "\n    ")
    return f"""{events} AS events
LEFT JOIN (
    SELECT person_id, toNullable(max(event_time)) AS excluded_at  -- each person's latest exclusion event
    FROM {nested_events}
    WHERE {excluded}
    GROUP BY person_id
) AS exclusions USING (person_id)
WHERE person_id != '' AND (excluded_at IS NULL OR event_time > excluded_at)"""


def step_counts_sql(funnel: FunnelDefinition) -> str:
    """How many people reached each step or further: ``(step, people)``, the funnel chart."""
    return people_per_step_sql(furthest_steps_sql(funnel), str(len(funnel.steps)))


def people_per_step_sql(furthest_steps: str, step_count: str) -> str:
    """``(step, people)``: how many of the rows of ``furthest_steps`` (a query with a ``furthest_step`` column, one
    row per person) reached each step from 1 to ``step_count`` (an SQL expression) or further. The funnel chart of
    both the events (``step_counts_sql``) and the stream's ``beacon.funnel_progress`` (the dashboard)."""
    return f"""SELECT step, countIf(furthest_step >= step) AS people
FROM ({furthest_steps})
ARRAY JOIN range(1, {step_count} + 1) AS step
GROUP BY step
ORDER BY step"""
