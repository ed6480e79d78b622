"""An ``EventMatch`` as a ClickHouse boolean expression over beacon.events' columns."""

from __future__ import annotations

from schemas.event_matching import PROPERTY_PREFIX, Condition, EventMatch
from stream_processors.matching.event_match import NOT_COUNTED_EVENTS


def person_events_sql(site_id: str, columns: str = "") -> str:
    """A subquery of the site's events the per-person stage counts (``event_match.counts_for_person``), each with
    its ``person_id`` (the user id, else the visitor id) and the extra ``columns`` given (", expr AS name…")."""
    not_counted = ", ".join(quote(name) for name in sorted(NOT_COUNTED_EVENTS))
    return f"""(
    SELECT *, if(user_id != '', user_id, visitor_id) AS person_id{columns}
    FROM beacon.events FINAL
    WHERE site_id = {quote(site_id)} AND NOT is_bot AND event_name NOT IN ({not_counted})
)"""


def match_sql(match: EventMatch) -> str:
    names = match.event
    tests = [f"event_name = {quote(names[0])}" if len(names) == 1 else f"event_name IN ({_list(names)})"]
    tests += [_condition_sql(column_sql(field), condition) for field, condition in match.where.items()]
    return " AND ".join(tests)


def column_sql(field: str) -> str:
    if field.startswith(PROPERTY_PREFIX):
        return f"properties[{quote(field[len(PROPERTY_PREFIX) :])}]"
    return field


def condition_sql(field: str, condition: Condition) -> str:
    return _condition_sql(column_sql(field), condition)


def _condition_sql(column: str, condition: Condition) -> str:
    if condition.equals is not None:
        return f"{column} = {quote(condition.equals)}"
    if condition.one_of is not None:
        return f"{column} IN ({_list(condition.one_of)})"
    if condition.contains is not None:
        return f"position({column}, {quote(condition.contains)}) > 0"
    return f"startsWith({column}, {quote(condition.starts_with or '')})"


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(quote(value) for value in values)


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
