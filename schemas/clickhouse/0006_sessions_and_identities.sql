-- Stream-core results: which visitor and session each event belongs to, sessions as versioned corrections,
-- identity links and visitors found to be bots (schemas.sessions, schemas.identities).
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS visitor_id String DEFAULT '' AFTER user_id,
    ADD COLUMN IF NOT EXISTS session_id UUID DEFAULT toUUID('00000000-0000-0000-0000-000000000000') AFTER visitor_id,
    ADD COLUMN IF NOT EXISTS too_late Bool DEFAULT false AFTER session_id;

-- One row per version of a session. A changed session is written as the previous version again with
-- sign -1 (cancelling it) and the new version with sign +1, so sum(sign)-weighted queries are always right,
-- and merges (or FINAL) keep only the latest version.
CREATE TABLE IF NOT EXISTS beacon.sessions
(
    session_id   UUID,
    site_id      LowCardinality(String),
    visitor_id   String,
    user_id      String,
    start_time   DateTime64(3, 'UTC'),
    end_time     DateTime64(3, 'UTC'),
    entry_url    String,
    exit_url     String,
    referrer     String,
    channel      LowCardinality(String),
    utm_source   String,
    utm_medium   String,
    utm_campaign String,
    utm_term     String,
    utm_content  String,
    device_type  LowCardinality(String),
    browser      LowCardinality(String),
    os           LowCardinality(String),
    country      LowCardinality(String),
    region       String,
    city         String,
    page_views   UInt32,
    events       UInt32,
    duration_ms  UInt64,
    engaged_ms   UInt64,
    is_bounce    Bool,
    is_bot       Bool,
    version      UInt64,
    sign         Int8,
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = VersionedCollapsingMergeTree(sign, version)
PARTITION BY toYYYYMM(start_time)
ORDER BY (site_id, toDate(start_time), session_id);

-- Which (session, version, sign) rows were ever inserted, filled by the view below in the same INSERT. The
-- warehouse writer skips rows already listed, so a row re-sent after a crash is never counted twice (a
-- collapsing table cannot tell a repeat from a new row). Kept longer than any topic's retention.
CREATE TABLE IF NOT EXISTS beacon.session_rows_written
(
    session_id UUID,
    version    UInt64,
    sign       Int8,
    written_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY (session_id, version, sign)
TTL written_at + INTERVAL 14 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.session_rows_written_view TO beacon.session_rows_written
AS SELECT session_id, version, sign FROM beacon.sessions;

-- When a late event merges two sessions or splits one, events already written move to another session.
CREATE TABLE IF NOT EXISTS beacon.event_session_changes
(
    site_id     LowCardinality(String),
    event_id    UUID,
    session_id  UUID,
    changed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY (site_id, event_id);

-- The session each event belongs to now: the one written with the event unless a later change moved it.
CREATE VIEW IF NOT EXISTS beacon.event_sessions AS
SELECT
    e.site_id AS site_id,
    e.event_id AS event_id,
    if(c.event_id = toUUID('00000000-0000-0000-0000-000000000000'), e.session_id, c.session_id) AS session_id
FROM (SELECT DISTINCT site_id, event_id, session_id FROM beacon.events) AS e
LEFT JOIN (SELECT site_id, event_id, argMax(session_id, changed_at) AS session_id
           FROM beacon.event_session_changes GROUP BY site_id, event_id) AS c
    ON e.site_id = c.site_id AND e.event_id = c.event_id;

-- Identity links: an anonymous id (identify) or a former user id (alias) known to be this user.
CREATE TABLE IF NOT EXISTS beacon.identities
(
    site_id    LowCardinality(String),
    identifier String,
    kind       LowCardinality(String),
    user_id    String,
    linked_at  DateTime64(3, 'UTC'),
    event_id   UUID
)
ENGINE = ReplacingMergeTree(linked_at)
ORDER BY (site_id, identifier);

-- Visitors flagged as bots by their behaviour (e.g. an impossible hit rate), after their first events were
-- already written: exclude them retroactively with `visitor_id NOT IN (SELECT visitor_id FROM bot_visitors)`.
CREATE TABLE IF NOT EXISTS beacon.bot_visitors
(
    site_id    LowCardinality(String),
    visitor_id String,
    reason     LowCardinality(String),
    flagged_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(flagged_at)
ORDER BY (site_id, visitor_id);
