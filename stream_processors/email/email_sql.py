"""The ClickHouse query that computes ``beacon.email_deliveries`` from ``beacon.events``, heuristics included.

It is the definition the stream's figures are tested against, and what an analyst runs to recompute them
with other thresholds (the rules are parameters).
"""

from __future__ import annotations

from stream_processors.email.email_deliveries import EmailRules
from stream_processors.matching.match_sql import quote
from stream_processors.visitors.track_event import CONVERSION_EVENTS


def email_deliveries_sql(site_id: str, rules: EmailRules) -> str:
    """One row per (campaign_id, message_id, recipient_id) with the columns of ``beacon.email_deliveries``
    (no version or times of update)."""
    purchases = ", ".join(quote(name) for name in sorted(CONVERSION_EVENTS))
    scanner_ms = round(rules.scanner_seconds * 1000)
    burst_ms = round(rules.burst_seconds * 1000)
    return f"""
WITH
    touches AS (
        SELECT
            properties['campaign_id'] AS campaign_id, properties['message_id'] AS message_id,
            if(user_id != '', user_id, visitor_id) AS recipient_id,
            event_name, toUnixTimestamp64Milli(event_time) AS ms, mail_fetcher,
            if(event_name = 'email_clicked', url, '') AS link
        FROM beacon.events FINAL
        WHERE site_id = {quote(site_id)} AND event_name IN ('email_sent', 'email_opened', 'email_clicked')
    ),
    sends AS (
        SELECT campaign_id, message_id, recipient_id, min(ms) AS sent_ms
        FROM touches WHERE event_name = 'email_sent' GROUP BY campaign_id, message_id, recipient_id
    ),
    interactions AS (
        SELECT t.*, s.sent_ms AS sent_ms,
            row_number() OVER (PARTITION BY t.campaign_id, t.message_id, t.recipient_id, t.event_name, t.mail_fetcher
                               ORDER BY t.ms) AS fetch_rank,
            uniqExact(t.link) OVER (PARTITION BY t.campaign_id, t.message_id, t.recipient_id, t.event_name
                                    ORDER BY t.ms RANGE BETWEEN {burst_ms} PRECEDING AND {burst_ms} FOLLOWING)
                AS links_around
        FROM touches AS t
        LEFT JOIN sends AS s USING (campaign_id, message_id, recipient_id)
        WHERE t.event_name != 'email_sent'
        SETTINGS join_use_nulls = 1
    ),
    classified AS (
        SELECT *, multiIf(
            mail_fetcher = 'apple_privacy_proxy', 'apple_privacy_proxy',
            mail_fetcher = 'scanner', 'scanner_network',
            sent_ms IS NOT NULL AND ms < sent_ms + {scanner_ms}, 'too_soon_after_send',
            event_name = 'email_opened' AND mail_fetcher IN ('gmail_image_proxy', 'yahoo_image_proxy')
                AND fetch_rank > 1, 'proxy_refetch',
            event_name = 'email_clicked' AND links_around >= {rules.burst_links}, 'click_burst',
            '') AS machine_reason
        FROM interactions
    ),
    human_clicks AS (
        SELECT recipient_id, ms AS click_ms, campaign_id, message_id
        FROM classified WHERE event_name = 'email_clicked' AND machine_reason = ''
    ),
    purchases AS (
        SELECT if(user_id != '', user_id, visitor_id) AS recipient_id, toUnixTimestamp64Milli(event_time) AS ms,
               toFloat64OrZero(properties['revenue']) AS revenue
        FROM beacon.events FINAL
        WHERE site_id = {quote(site_id)} AND event_name IN ({purchases})
    ),
    conversions AS (
        SELECT c.campaign_id AS campaign_id, c.message_id AS message_id, p.recipient_id AS recipient_id,
               count() AS conversions, sum(p.revenue) AS conversion_revenue
        FROM purchases AS p
        ASOF INNER JOIN human_clicks AS c ON p.recipient_id = c.recipient_id AND c.click_ms <= p.ms
        WHERE p.ms - c.click_ms <= {rules.conversion_ms}
        GROUP BY campaign_id, message_id, recipient_id
    ),
    figures AS (
        SELECT campaign_id, message_id, recipient_id,
            countIf(event_name = 'email_opened') AS opens,
            countIf(event_name = 'email_opened' AND machine_reason = '') AS human_opens,
            countIf(event_name = 'email_clicked') AS clicks,
            countIf(event_name = 'email_clicked' AND machine_reason = '') AS human_clicks,
            minIf(ms, event_name = 'email_opened') AS first_open_ms,
            minIf(ms, event_name = 'email_opened' AND machine_reason = '') AS first_human_open_ms,
            minIf(ms, event_name = 'email_clicked') AS first_click_ms,
            minIf(ms, event_name = 'email_clicked' AND machine_reason = '') AS first_human_click_ms,
            arraySort(groupUniqArrayIf(machine_reason, machine_reason != '')) AS machine_reasons
        FROM classified GROUP BY campaign_id, message_id, recipient_id
    ),
    messages AS (
        SELECT DISTINCT campaign_id, message_id, recipient_id FROM touches
    )
SELECT
    m.campaign_id AS campaign_id, m.message_id AS message_id, m.recipient_id AS recipient_id,
    fromUnixTimestamp64Milli(s.sent_ms, 'UTC') AS sent_at,
    ifNull(f.opens, 0) AS opens, ifNull(f.human_opens, 0) AS human_opens,
    ifNull(f.clicks, 0) AS clicks, ifNull(f.human_clicks, 0) AS human_clicks,
    opens + clicks > 0 AS opened, human_opens + human_clicks > 0 AS human_opened,
    clicks > 0 AS clicked, human_clicks > 0 AS human_clicked,
    if(opens > 0, fromUnixTimestamp64Milli(f.first_open_ms, 'UTC'), NULL) AS first_open_at,
    if(human_opens > 0, fromUnixTimestamp64Milli(f.first_human_open_ms, 'UTC'), NULL) AS first_human_open_at,
    if(clicks > 0, fromUnixTimestamp64Milli(f.first_click_ms, 'UTC'), NULL) AS first_click_at,
    if(human_clicks > 0, fromUnixTimestamp64Milli(f.first_human_click_ms, 'UTC'), NULL) AS first_human_click_at,
    ifNull(f.machine_reasons, []) AS machine_reasons,
    ifNull(c.conversions, 0) AS conversions, round(ifNull(c.conversion_revenue, 0), 6) AS conversion_revenue
FROM messages AS m
LEFT JOIN sends AS s USING (campaign_id, message_id, recipient_id)
LEFT JOIN figures AS f USING (campaign_id, message_id, recipient_id)
LEFT JOIN conversions AS c USING (campaign_id, message_id, recipient_id)
ORDER BY m.campaign_id, m.message_id, m.recipient_id
SETTINGS join_use_nulls = 1"""
