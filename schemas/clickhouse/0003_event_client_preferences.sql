-- The client's language and privacy signals, so analysts can honour or report on DNT and GPC.
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS locale LowCardinality(String) DEFAULT '' AFTER ip,
    ADD COLUMN IF NOT EXISTS do_not_track Bool DEFAULT false AFTER locale,
    ADD COLUMN IF NOT EXISTS global_privacy_control Bool DEFAULT false AFTER do_not_track;
