-- Rejected input with its reason and original payload (schemas.dead_letters.DeadLetter), kept for replay.
CREATE TABLE IF NOT EXISTS beacon.dead_letters
(
    dead_letter_id UUID,
    stage          LowCardinality(String),
    reason         LowCardinality(String),
    detail         String,
    site_id        String,
    received_at    DateTime64(3, 'UTC'),
    rejected_at    DateTime64(3, 'UTC'),
    payload        String,
    inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (stage, reason, dead_letter_id)
TTL toDateTime(received_at) + INTERVAL 90 DAY;
