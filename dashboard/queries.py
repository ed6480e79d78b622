"""Every figure of the dashboard, as a named, parameterised ClickHouse query: the one copy of each.

The page shows what these queries return and computes nothing itself (it formats). The analyst guide
(docs/analysts.md, "The dashboard's queries") shows each query verbatim, and its end-to-end test runs them on
generated traffic; a unit test keeps the two identical (``python -m dashboard.queries`` prints the guide's
section after a change here).

Parameters, bound by the server (``{name:Type}``, as ``clickhouse-client --param_site=demo`` or
``?param_site=demo`` over HTTP): ``site`` (String), ``from`` and ``to`` (Date, both included, UTC days) and
``stages`` (Array(String): the site's customer-journey stage names, from its definition). Queries read the
stream's own tables and the rollups, never the raw events where a rollup has the figure.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.journeys import JOURNEY_FUNNEL_ID, JourneyDefinition
from stream_processors.funnels.funnel_sql import people_per_step_sql

_PARAMETER = re.compile(r"\{(\w+):[^}]+\}")


@dataclass(frozen=True)
class DashboardQuery:
    name: str
    title: str  # what it answers: the comment that heads it in the guide
    sql: str

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters it takes, in order of first use."""
        return tuple(dict.fromkeys(_PARAMETER.findall(self.sql)))

    def guide_text(self) -> str:
        """The statement as the analyst guide shows it."""
        return f"-- dashboard query `{self.name}`: {self.title}\n{self.sql};"


@dataclass(frozen=True)
class DashboardFilter:
    """What the page's pickers chose: a site, a period of whole UTC days, and the site's journey."""

    site_id: str
    first_day: date
    last_day: date
    journey: JourneyDefinition

    def values(self) -> dict[str, Any]:
        return {
            "site": self.site_id,
            "from": self.first_day,
            "to": self.last_day,
            "stages": [stage.name for stage in self.journey.stages],
        }


def _journey_funnel_sql() -> str:
    progress = f"""SELECT step AS furthest_step FROM beacon.funnel_progress
      WHERE site_id = {{site:String}} AND funnel_id = '{JOURNEY_FUNNEL_ID}'
        AND funnel_version = (SELECT argMax(funnel_version, emitted_at) FROM beacon.funnel_transitions
                              WHERE site_id = {{site:String}} AND funnel_id = '{JOURNEY_FUNNEL_ID}')"""
    per_step = people_per_step_sql(progress, "length({stages:Array(String)})")
    return f"""SELECT step, {{stages:Array(String)}}[step] AS stage, people,
       round(people / nullIf(first_value(people) OVER (ORDER BY step), 0), 3) AS of_first_stage,
       round(people / nullIf(lagInFrame(people, 1, people) OVER (ORDER BY step), 0), 3) AS of_previous_stage
FROM ({per_step})
ORDER BY step"""


_SESSIONS_IN_PERIOD = """FROM beacon.sessions
WHERE site_id = {site:String} AND NOT is_bot AND toDate(start_time) BETWEEN {from:Date} AND {to:Date}"""

QUERIES: tuple[DashboardQuery, ...] = (
    DashboardQuery(
        "sites",
        "the sites with traffic, and their latest day",
        """SELECT site_id, max(day) AS last_day
FROM beacon.site_traffic_by_day
GROUP BY site_id
ORDER BY site_id""",
    ),
    DashboardQuery(
        "live_visitors",
        "visitors and page views of the last 5 minutes, people only",
        """SELECT uniqExactMerge(visitors) AS visitors, uniqExactMerge(page_views) AS page_views
FROM beacon.site_traffic_by_minute
WHERE site_id = {site:String} AND NOT is_bot AND minute >= now() - INTERVAL 5 MINUTE""",
    ),
    DashboardQuery(
        "events_per_minute",
        "events per minute of the last 30 minutes (page pings left out), people only, every minute",
        """SELECT minute, uniqExactMerge(events) AS events
FROM beacon.site_events_by_minute
WHERE site_id = {site:String} AND NOT is_bot AND event_name != 'page_ping'
  AND minute >= toStartOfMinute(now()) - INTERVAL 29 MINUTE
GROUP BY minute
ORDER BY minute WITH FILL FROM toStartOfMinute(now()) - INTERVAL 29 MINUTE TO toStartOfMinute(now()) + INTERVAL 1 MINUTE
    STEP INTERVAL 1 MINUTE""",
    ),
    DashboardQuery(
        "summary",
        "the period's visitors (each once), page views, sessions, bounce rate and engaged time, people only",
        """SELECT uniqExactMerge(visitors) AS visitors, uniqExactMerge(page_views) AS page_views,
       sum(sessions) AS sessions, round(sum(bounces) / nullIf(sessions, 0), 3) AS bounce_rate,
       round(sum(engaged_ms) / nullIf(sessions, 0) / 1000, 1) AS engaged_seconds_per_session
FROM beacon.site_traffic_by_day
WHERE site_id = {site:String} AND NOT is_bot AND day BETWEEN {from:Date} AND {to:Date}""",
    ),
    DashboardQuery(
        "traffic_by_day",
        "visitors, page views and sessions per day of the period, people only, every day",
        """SELECT day, uniqExactMerge(visitors) AS visitors, uniqExactMerge(page_views) AS page_views,
       sum(sessions) AS sessions
FROM beacon.site_traffic_by_day
WHERE site_id = {site:String} AND NOT is_bot AND day BETWEEN {from:Date} AND {to:Date}
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1""",
    ),
    DashboardQuery(
        "top_pages",
        "the 10 most viewed pages of the period and their visitors, people only",
        """SELECT path(url) AS page, count() AS views, uniqExact(visitor_id) AS visitors
FROM beacon.events FINAL
WHERE site_id = {site:String} AND event_name = 'page_view' AND NOT is_bot
  AND toDate(event_time) BETWEEN {from:Date} AND {to:Date}
GROUP BY page
ORDER BY views DESC, page
LIMIT 10""",
    ),
    DashboardQuery(
        "channels",
        "sessions started in the period per channel, and their bounce rate",
        f"""SELECT channel, sum(sign) AS sessions, round(sumIf(sign, is_bounce) / sessions, 3) AS bounce_rate
{_SESSIONS_IN_PERIOD}
GROUP BY channel HAVING sessions > 0
ORDER BY sessions DESC, channel""",
    ),
    DashboardQuery(
        "campaigns",
        "sessions started in the period per UTM campaign, and the share engaged (may be empty)",
        f"""SELECT utm_source, utm_medium, utm_campaign, sum(sign) AS sessions,
       round(sumIf(sign, NOT is_bounce) / sessions, 3) AS engagement_rate
{_SESSIONS_IN_PERIOD} AND (utm_source != '' OR utm_medium != '' OR utm_campaign != '')
GROUP BY utm_source, utm_medium, utm_campaign HAVING sessions > 0
ORDER BY sessions DESC, utm_source, utm_medium, utm_campaign
LIMIT 20""",
    ),
    DashboardQuery(
        "devices",
        "sessions started in the period per device type",
        f"""SELECT device_type, sum(sign) AS sessions
{_SESSIONS_IN_PERIOD}
GROUP BY device_type HAVING sessions > 0
ORDER BY sessions DESC, device_type""",
    ),
    DashboardQuery(
        "countries",
        "sessions started in the period per country ('' unknown), the first 20",
        f"""SELECT country, sum(sign) AS sessions
{_SESSIONS_IN_PERIOD}
GROUP BY country HAVING sessions > 0
ORDER BY sessions DESC, country
LIMIT 20""",
    ),
    DashboardQuery(
        "journey_funnel",
        "people at each customer-journey stage or further now, as a share of the first and of the previous stage",
        _journey_funnel_sql(),
    ),
    DashboardQuery(
        "retention_cohorts",
        "visitors first seen in each week of the period, and the share who came back 1-4 weeks later, people only",
        """SELECT cohort, sum(r[1]) AS visitors,
       round(sum(r[2]) / visitors, 3) AS week_1, round(sum(r[3]) / visitors, 3) AS week_2,
       round(sum(r[4]) / visitors, 3) AS week_3, round(sum(r[5]) / visitors, 3) AS week_4
FROM (
    SELECT visitor_id, cohort,
           retention(week = cohort, week = cohort + 7, week = cohort + 14, week = cohort + 21, week = cohort + 28) AS r
    FROM (SELECT visitor_id, toMonday(start_time) AS week,
                 min(toMonday(start_time)) OVER (PARTITION BY visitor_id) AS cohort
          FROM beacon.sessions FINAL
          WHERE site_id = {site:String} AND sign = 1 AND NOT is_bot
            AND toDate(start_time) BETWEEN {from:Date} AND {to:Date})
    GROUP BY visitor_id, cohort
)
GROUP BY cohort
ORDER BY cohort""",
    ),
    DashboardQuery(
        "email_campaigns",
        "per campaign with a message first sent (else opened) in the period: sent, raw and human open rates, human "
        "click rate and click-to-open rate, conversions and revenue (may be empty)",
        """SELECT campaign_id,
       countIf(sent_at IS NOT NULL) AS sent,
       countIf(opened) AS opened, countIf(human_opened) AS human_opened, countIf(human_clicked) AS human_clicked,
       round(opened / greatest(sent, 1), 3) AS open_rate,
       round(human_opened / greatest(sent, 1), 3) AS human_open_rate,
       round(human_clicked / greatest(sent, 1), 3) AS click_rate,
       round(human_clicked / greatest(human_opened, 1), 3) AS click_to_open_rate,
       sum(conversions) AS conversions, round(sum(conversion_revenue), 2) AS revenue
FROM beacon.email_deliveries FINAL
WHERE site_id = {site:String}
  AND toDate(coalesce(sent_at, first_open_at, first_click_at)) BETWEEN {from:Date} AND {to:Date}
GROUP BY campaign_id
ORDER BY sent DESC, campaign_id""",
    ),
    DashboardQuery(
        "segment_sizes",
        "members of each segment (its latest version) at the end of each day of the period: the running sum of "
        "entries and exits; none before a segment of the site changes (may be empty)",
        """WITH latest AS (SELECT segment_id, argMax(segment_version, changed_at) AS segment_version
                FROM beacon.segment_changes WHERE site_id = {site:String} GROUP BY segment_id)
SELECT day, segment_id, sum(delta) OVER (PARTITION BY segment_id ORDER BY day) AS members
FROM (
    SELECT day, segment_id, sum(delta) AS delta
    FROM (
        SELECT greatest(toDate(changed_at), {from:Date}) AS day, segment_id, if(change = 'entered', 1, -1) AS delta
        FROM beacon.segment_changes FINAL
        WHERE site_id = {site:String} AND toDate(changed_at) <= {to:Date}
          AND (segment_id, segment_version) IN (SELECT segment_id, segment_version FROM latest)
        UNION ALL
        SELECT {from:Date} + arrayJoin(range(toUInt32({to:Date} - {from:Date}) + 1)) AS day, segment_id, 0 AS delta
        FROM latest
    )
    GROUP BY day, segment_id
)
ORDER BY segment_id, day""",
    ),
    DashboardQuery(
        "dead_letters",
        "what was refused in the period, by stage and reason (may be empty)",
        """SELECT stage, reason, uniqExact(dead_letter_id) AS refused, max(received_at) AS last_received_at
FROM beacon.dead_letters
WHERE site_id = {site:String} AND toDate(received_at) BETWEEN {from:Date} AND {to:Date}
GROUP BY stage, reason
ORDER BY refused DESC, stage, reason""",
    ),
)

BY_NAME: dict[str, DashboardQuery] = {query.name: query for query in QUERIES}


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def run_query(client: Client, query: DashboardQuery, chosen: DashboardFilter) -> QueryResult:
    """Run one named query with the parameters it takes from ``chosen``."""
    values = chosen.values()
    result = client.query(query.sql, parameters={name: values[name] for name in query.parameters})
    return QueryResult(tuple(result.column_names), [tuple(row) for row in result.result_rows])


def guide_section() -> str:
    """The analyst guide's ```sql blocks of the dashboard's queries, in order (to paste after a change)."""
    return "\n\n".join(f"```sql\n{query.guide_text()}\n```" for query in QUERIES)


if __name__ == "__main__":
    sys.stdout.write(guide_section() + "\n")
