-- A customer profile names the live segments the person is in now (config/segments/), kept with the profile by
-- the stream worker: a new version whenever the person enters or leaves one, by an event or when time alone
-- changes it. Rows written before it say [] .
ALTER TABLE beacon.customer_profiles
    ADD COLUMN IF NOT EXISTS segments Array(String) DEFAULT [] AFTER journey_stage;
