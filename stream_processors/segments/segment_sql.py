"""The ClickHouse query that gives a segment's members at a moment, from ``beacon.events``: the definition the
stream's memberships are tested against, and what ``./beacon segments show ID --sql`` prints."""

from __future__ import annotations

from datetime import datetime

from schemas.segments import AbsenceRule, AttributeRule, CountRule, RecencyRule, SegmentDefinition, window_ms
from stream_processors.matching.match_sql import condition_sql, match_sql, person_events_sql
from stream_processors.visitors.track_event import milliseconds


def segment_members_sql(segment: SegmentDefinition, at: datetime | None = None) -> str:
    """``person_id`` of every member at ``at`` (the query's ``now()`` by default)."""
    now = "toUnixTimestamp64Milli(now64(3))" if at is None else str(milliseconds(at))
    columns, tests = [], []
    for number, rule in enumerate(segment.rules):
        if isinstance(rule, CountRule):
            window = window_ms(rule.in_last)
            since = "" if window is None else f" AND ms > T - {window}"
            columns.append(f"countIf({match_sql(rule.count)}{since}) AS c{number}")
            tests.append(f"c{number} >= {rule.at_least}")
            if rule.at_most is not None:
                tests.append(f"c{number} <= {rule.at_most}")
        elif isinstance(rule, AbsenceRule):
            within = window_ms(rule.within)
            window = window_ms(rule.in_last)
            since = "" if window is None else f" AND d > T - {window}"
            columns.append(f"groupArrayIf(ms, {match_sql(rule.did)}) AS did{number}")
            columns.append(f"groupArrayIf(ms, {match_sql(rule.then_not)}) AS then{number}")
            tests.append(
                f"arrayExists(d -> d + {within} <= T{since}"
                f" AND NOT arrayExists(n -> n >= d AND n <= d + {within}, then{number}), did{number})"
            )
        elif isinstance(rule, RecencyRule):
            if rule.not_seen_for is not None:
                tests.append(f"last_seen <= T - {window_ms(rule.not_seen_for)}")
            else:
                tests.append(f"last_seen > T - {window_ms(rule.seen_within)}")
        elif isinstance(rule, AttributeRule):
            columns.append(f"argMaxIf({rule.attribute}, ms, {rule.attribute} != '') AS a{number}")
            tests.append(condition_sql(f"a{number}", rule.condition))
    events = person_events_sql(segment.site_id, ", toUnixTimestamp64Milli(event_time) AS ms")
    selected = ",\n        ".join(["max(ms) AS last_seen", *columns])
    return f"""WITH {now} AS T
SELECT person_id
FROM
(
    SELECT
        person_id,
        {selected}
    FROM {events}
    WHERE person_id != '' AND ms <= T
    GROUP BY person_id
)
WHERE {" AND ".join(tests)}
ORDER BY person_id"""
