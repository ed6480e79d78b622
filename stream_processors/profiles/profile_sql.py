"""The ClickHouse query that computes customer profiles from ``beacon.events``: what the stream keeps on the fly.

The end-to-end tests compare ``beacon.customer_profiles FINAL`` with its result, and the analyst guide shows it.
"""

from __future__ import annotations

from schemas.profiles import PURCHASE_EVENTS, REVENUE_PATTERN, REVENUE_SCALE
from stream_processors.matching.match_sql import person_events_sql, quote
from stream_processors.profiles.track_profile import PAGE_VIEW_EVENTS

NO_SESSION_SQL = "toUUID('00000000-0000-0000-0000-000000000000')"


def _names(names: frozenset[str]) -> str:
    return ", ".join(quote(name) for name in sorted(names))


def profiles_sql(site_id: str) -> str:
    """One row per person of the site, with the profile's figures (anonymous ids as a sorted set)."""
    first_visit = f"(event_time, toString(event_id)), session_id != {NO_SESSION_SQL}"
    is_purchase = (
        f",\n        event_name IN ({_names(PURCHASE_EVENTS)})"
        f" AND match(properties['revenue'], {quote(REVENUE_PATTERN)}) AS is_purchase"
    )
    return f"""SELECT
    person_id,
    max(user_id)                                          AS user_id,
    arraySort(groupUniqArrayIf(anonymous_id, anonymous_id != '')) AS anonymous_ids,
    min(event_time)                                       AS first_seen,
    max(event_time)                                       AS last_seen,
    argMinIf(channel, {first_visit})                      AS acquisition_channel,
    argMinIf(referrer_host, {first_visit})                AS acquisition_referrer_host,
    argMinIf(utm_source, {first_visit})                   AS acquisition_utm_source,
    argMinIf(utm_medium, {first_visit})                   AS acquisition_utm_medium,
    argMinIf(utm_campaign, {first_visit})                 AS acquisition_utm_campaign,
    uniqExactIf(session_id, session_id != {NO_SESSION_SQL}) AS sessions,
    countIf(event_name IN ({_names(PAGE_VIEW_EVENTS)}))   AS page_views,
    countIf(event_name = 'email_sent')                    AS emails_sent,
    countIf(event_name = 'email_opened')                  AS email_opens,
    countIf(event_name = 'email_clicked')                 AS email_clicks,
    countIf(startsWith(event_name, 'chat_'))              AS chat_events,
    countIf(event_name = 'chat_conversation_started')     AS chat_conversations,
    countIf(is_purchase)                                  AS purchases,
    sumIf(toDecimal128OrZero(properties['revenue'], {REVENUE_SCALE}), is_purchase) AS revenue,
    if(purchases = 0, NULL, minIf(event_time, is_purchase)) AS first_purchase_at,
    if(purchases = 0, NULL, maxIf(event_time, is_purchase)) AS last_purchase_at
FROM {person_events_sql(site_id, is_purchase)}
WHERE person_id != ''
GROUP BY person_id"""
