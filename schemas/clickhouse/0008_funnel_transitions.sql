-- Funnels kept on the fly by the stream worker: every change of a person's furthest step in a funnel.
-- A transition re-delivered (a retry, a worker restart) has the same key and collapses into one row.
CREATE TABLE IF NOT EXISTS beacon.funnel_transitions
(
    site_id        LowCardinality(String),
    funnel_id      LowCardinality(String),
    funnel_version LowCardinality(String),
    person_id      String,
    sequence       UInt32,
    from_step      UInt8,
    to_step        UInt8,
    step_name      String,
    reached_at     DateTime64(3, 'UTC'),
    event_id       UUID,
    event_time     DateTime64(3, 'UTC'),
    emitted_at     DateTime64(3, 'UTC'),
    inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(emitted_at)
ORDER BY (site_id, funnel_id, funnel_version, person_id, sequence);

-- Each person's furthest step now, per funnel version: the latest transition.
CREATE VIEW IF NOT EXISTS beacon.funnel_progress AS
SELECT
    site_id,
    funnel_id,
    funnel_version,
    person_id,
    argMax(to_step, sequence)    AS step,
    argMax(step_name, sequence)  AS step_name,
    argMax(reached_at, sequence) AS reached_at,
    max(sequence)                AS transitions
FROM beacon.funnel_transitions
GROUP BY site_id, funnel_id, funnel_version, person_id;
