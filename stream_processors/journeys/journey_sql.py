"""The ClickHouse query that gives each person's customer-journey stage from ``beacon.events``."""

from __future__ import annotations

from schemas.journeys import JourneyDefinition, JourneyStage
from stream_processors.matching.match_sql import match_sql, person_events_sql


def journey_stages_sql(journey: JourneyDefinition) -> str:
    """One row per person past stage 0: ``(person_id, stage)``."""
    stages = ",\n        ".join(
        f"if({_criterion_sql(stage)}, {number}, 0)" for number, stage in enumerate(journey.stages, start=1)
    )
    return f"""SELECT person_id, greatest(0,
        {stages}
    ) AS stage
FROM {person_events_sql(journey.site_id)}
WHERE person_id != ''
GROUP BY person_id
HAVING stage > 0"""


def _criterion_sql(stage: JourneyStage) -> str:
    return " OR ".join(f"countIf({match_sql(rule.count)}) >= {rule.at_least}" for rule in stage.any_of)
