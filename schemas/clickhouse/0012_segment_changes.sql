-- Live segments kept by the stream worker: every entry and exit of a person, as its history.
-- A change re-delivered (a retry, a worker restart) has the same key and collapses into one row.
CREATE TABLE IF NOT EXISTS beacon.segment_changes
(
    schema_version  UInt8,
    site_id         LowCardinality(String),
    segment_id      LowCardinality(String),
    segment_version LowCardinality(String),
    person_id       String,
    change          LowCardinality(String),
    sequence        UInt32,
    changed_at      DateTime64(3, 'UTC'),
    event_id        String,
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(changed_at)
ORDER BY (site_id, segment_id, segment_version, person_id, sequence);

-- Who is in each segment now, per segment version: the people whose latest change is an entry.
CREATE VIEW IF NOT EXISTS beacon.segment_members AS
SELECT site_id, segment_id, segment_version, person_id, max(changed_at) AS since
FROM beacon.segment_changes
GROUP BY site_id, segment_id, segment_version, person_id
HAVING argMax(change, sequence) = 'entered';
