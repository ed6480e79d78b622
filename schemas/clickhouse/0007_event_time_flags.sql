-- Flag events whose client time could not be taken as it was: after the event's receipt (a clock ahead of
-- ours) or after the client's own send time. Their event_time is the receipt time.
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS time_clamped Bool DEFAULT false AFTER too_late;
