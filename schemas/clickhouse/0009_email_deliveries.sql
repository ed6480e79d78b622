-- Who fetched an email's open pixel or followed its link (the enrich stage): a person's mail client, Apple's
-- privacy proxy, a webmail image proxy, or a scanner. '' for events that are not email opens or clicks.
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS mail_fetcher LowCardinality(String) DEFAULT '' AFTER visitor_hash;

-- One row per email message and recipient, kept by the stream worker: sent, opened and clicked, raw and by
-- people only (machine opens classified, not dropped), and purchases attributed to its clicks (last touch).
-- Each change is a new version; FINAL (or argMax by version) gives the row now.
CREATE TABLE IF NOT EXISTS beacon.email_deliveries
(
    site_id              LowCardinality(String),
    campaign_id          String,
    message_id           String,
    recipient_id         String,
    version              UInt32,
    sent_at              Nullable(DateTime64(3, 'UTC')),
    opens                UInt32,
    human_opens          UInt32,
    clicks               UInt32,
    human_clicks         UInt32,
    opened               Bool,
    human_opened         Bool,
    clicked              Bool,
    human_clicked        Bool,
    first_open_at        Nullable(DateTime64(3, 'UTC')),
    first_human_open_at  Nullable(DateTime64(3, 'UTC')),
    first_click_at       Nullable(DateTime64(3, 'UTC')),
    first_human_click_at Nullable(DateTime64(3, 'UTC')),
    machine_reasons      Array(LowCardinality(String)),
    conversions          UInt32,
    conversion_revenue   Float64,
    updated_at           DateTime64(3, 'UTC'),
    inserted_at          DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, campaign_id, message_id, recipient_id);
