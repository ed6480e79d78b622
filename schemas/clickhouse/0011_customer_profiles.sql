-- Customer profiles kept on the fly by the stream worker: one row per person (a known user, else an anonymous
-- visitor) and version. A profile changes, a version is added; the highest version is the profile now, so
-- query with FINAL (or argMax by version). Rows of a version re-delivered after a restart collapse too.
CREATE TABLE IF NOT EXISTS beacon.customer_profiles
(
    site_id                   LowCardinality(String),
    person_id                 String,
    version                   UInt64,
    user_id                   String,
    anonymous_ids             Array(String),
    first_seen                DateTime64(3, 'UTC'),
    last_seen                 DateTime64(3, 'UTC'),
    acquisition_channel       LowCardinality(String),
    acquisition_referrer_host String,
    acquisition_utm_source    String,
    acquisition_utm_medium    String,
    acquisition_utm_campaign  String,
    sessions                  UInt32,
    returning                 Bool,
    page_views                UInt32,
    emails_sent               UInt32,
    email_opens               UInt32,
    email_clicks              UInt32,
    chat_events               UInt32,
    chat_conversations        UInt32,
    purchases                 UInt32,
    revenue                   Decimal128(6),
    average_order_value       Decimal128(6),
    first_purchase_at         Nullable(DateTime64(3, 'UTC')),
    last_purchase_at          Nullable(DateTime64(3, 'UTC')),
    frequency_score           UInt8,
    monetary_score            UInt8,
    rfm_recency_days          Array(UInt32),
    updated_at                DateTime64(3, 'UTC'),
    inserted_at               DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, person_id);

-- RFM now: recency (whole days since the last purchase) and its score are measured when queried, from the
-- row's own recency bounds; the segment is the common R x F map (docs/analysts.md). 'prospect': no purchase.
CREATE VIEW IF NOT EXISTS beacon.customer_rfm AS
SELECT
    site_id,
    person_id,
    user_id,
    purchases,
    revenue,
    average_order_value,
    last_purchase_at,
    if(purchases = 0, NULL, days) AS recency_days,
    if(purchases = 0, 0, 5 - arrayCount(bound -> days > bound, rfm_recency_days)) AS recency_score,
    frequency_score,
    monetary_score,
    multiIf(
        recency_score = 0 OR frequency_score = 0, 'prospect',
        recency_score <= 2 AND frequency_score <= 2, 'hibernating',
        recency_score <= 2 AND frequency_score <= 4, 'at_risk',
        recency_score <= 2, 'cannot_lose_them',
        recency_score = 3 AND frequency_score <= 2, 'about_to_sleep',
        recency_score = 3 AND frequency_score = 3, 'need_attention',
        frequency_score >= 4 AND recency_score <= 4, 'loyal_customers',
        recency_score = 4 AND frequency_score = 1, 'promising',
        recency_score = 5 AND frequency_score = 1, 'new_customers',
        frequency_score <= 3, 'potential_loyalists',
        'champions'
    ) AS rfm_segment
FROM
(
    SELECT *, intDiv(dateDiff('second', ifNull(last_purchase_at, now64(3)), now64(3)), 86400) AS days
    FROM beacon.customer_profiles FINAL
);
