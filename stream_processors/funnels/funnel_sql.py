"""The ClickHouse query that computes a funnel from ``beacon.events``: what the stream keeps on the fly.

``./beacon funnels show ID --sql`` prints it, the analyst guide explains it, and the end-to-end tests compare
the stream's ``beacon.funnel_progress`` with its result.
"""

from __future__ import annotations

from schemas.funnels import PROPERTY_PREFIX, Condition, FunnelDefinition, FunnelOrder, FunnelStep
from stream_processors.funnels.funnel_steps import IGNORED_EVENTS


def furthest_steps_sql(funnel: FunnelDefinition) -> str:
    """One row per person who reached step 1 or further: ``(person_id, furthest_step)``."""
    mode = ", 'strict_order'" if funnel.order is FunnelOrder.STRICT else ""
    steps = ",\n        ".join(_step_sql(step) for step in funnel.steps)
    ignored = ", ".join(quote(name) for name in sorted(IGNORED_EVENTS))
    return f"""SELECT
    person_id,
    windowFunnel({funnel.window_ms}{mode})(
        toUInt64(toUnixTimestamp64Milli(event_time)),
        {steps}
    ) AS furthest_step
FROM
(
    SELECT *, if(user_id != '', user_id, visitor_id) AS person_id
    FROM beacon.events FINAL
    WHERE site_id = {quote(funnel.site_id)} AND NOT is_bot AND event_name NOT IN ({ignored})
)
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


def _step_sql(step: FunnelStep) -> str:
    names = step.event
    tests = [f"event_name = {quote(names[0])}" if len(names) == 1 else f"event_name IN ({_list(names)})"]
    tests += [_condition_sql(_column(field), condition) for field, condition in step.where.items()]
    return " AND ".join(tests)


def _column(field: str) -> str:
    if field.startswith(PROPERTY_PREFIX):
        return f"properties[{quote(field[len(PROPERTY_PREFIX) :])}]"
    return field


def _condition_sql(column: str, condition: Condition) -> str:
    if condition.equals is not None:
        return f"{column} = {quote(condition.equals)}"
    if condition.one_of is not None:
        return f"{column} IN ({_list(condition.one_of)})"
    if condition.contains is not None:
        return f"position({column}, {quote(condition.contains)}) > 0"
    return f"startsWith({column}, {quote(condition.starts_with or '')})"


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(quote(value) for value in values) if values else "''"


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
