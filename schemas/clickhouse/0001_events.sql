-- Canonical events (schemas.events.Event). ReplacingMergeTree on the sorting key, which ends in event_id:
-- a batch written twice (writer retry, re-delivery) collapses to one row; query with FINAL for exact counts.
CREATE TABLE IF NOT EXISTS beacon.events
(
    event_id     UUID,
    site_id      LowCardinality(String),
    event_name   LowCardinality(String),
    event_time   DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    anonymous_id String,
    user_id      String,
    url          String,
    referrer     String,
    user_agent   String,
    ip           String,
    properties   Map(String, String),
    source       LowCardinality(String),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (site_id, toDate(event_time), event_id);
