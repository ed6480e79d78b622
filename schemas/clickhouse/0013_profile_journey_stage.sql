-- A customer profile names the person's stage in the customer journey (awareness, consideration, purchase,
-- service, loyalty by default; config/journeys/<site_id>.yaml), kept with the profile by the stream worker.
-- Rows written before it say '' (as do people before the first stage).
ALTER TABLE beacon.customer_profiles
    ADD COLUMN IF NOT EXISTS journey_stage LowCardinality(String) DEFAULT '' AFTER rfm_recency_days;
