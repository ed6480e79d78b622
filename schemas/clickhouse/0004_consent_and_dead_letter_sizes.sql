-- The visitor's consent as the sender reported it (schemas.events.Consent), and the original size of a
-- dead letter's payload (oversized input keeps only its first bytes).
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS consent LowCardinality(String) DEFAULT 'unknown' AFTER global_privacy_control;
ALTER TABLE beacon.dead_letters
    ADD COLUMN IF NOT EXISTS payload_bytes UInt32 DEFAULT length(payload) AFTER payload;
