-- What the enrich stage adds to an event (stream_processors/enrich/): browser, OS and device, bot flag and
-- reason, geolocation (from the full IP, before it is masked), referrer, campaign tags, channel, and the
-- cookieless visitor hash. Rows written before it keep '' and false: '' in channel and device_type means
-- 'not enriched'.
ALTER TABLE beacon.events
    ADD COLUMN IF NOT EXISTS browser LowCardinality(String) DEFAULT '' AFTER consent,
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String) DEFAULT '' AFTER browser,
    ADD COLUMN IF NOT EXISTS os LowCardinality(String) DEFAULT '' AFTER browser_version,
    ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '' AFTER os,
    ADD COLUMN IF NOT EXISTS device_type LowCardinality(String) DEFAULT '' AFTER os_version,
    ADD COLUMN IF NOT EXISTS is_bot Bool DEFAULT false AFTER device_type,
    ADD COLUMN IF NOT EXISTS bot_reason LowCardinality(String) DEFAULT '' AFTER is_bot,
    ADD COLUMN IF NOT EXISTS country LowCardinality(String) DEFAULT '' AFTER bot_reason,
    ADD COLUMN IF NOT EXISTS region LowCardinality(String) DEFAULT '' AFTER country,
    ADD COLUMN IF NOT EXISTS city LowCardinality(String) DEFAULT '' AFTER region,
    ADD COLUMN IF NOT EXISTS channel LowCardinality(String) DEFAULT '' AFTER city,
    ADD COLUMN IF NOT EXISTS referrer_host String DEFAULT '' AFTER channel,
    ADD COLUMN IF NOT EXISTS referrer_source LowCardinality(String) DEFAULT '' AFTER referrer_host,
    ADD COLUMN IF NOT EXISTS utm_source LowCardinality(String) DEFAULT '' AFTER referrer_source,
    ADD COLUMN IF NOT EXISTS utm_medium LowCardinality(String) DEFAULT '' AFTER utm_source,
    ADD COLUMN IF NOT EXISTS utm_campaign String DEFAULT '' AFTER utm_medium,
    ADD COLUMN IF NOT EXISTS utm_term String DEFAULT '' AFTER utm_campaign,
    ADD COLUMN IF NOT EXISTS utm_content String DEFAULT '' AFTER utm_term,
    ADD COLUMN IF NOT EXISTS click_id_type LowCardinality(String) DEFAULT '' AFTER utm_content,
    ADD COLUMN IF NOT EXISTS visitor_hash String DEFAULT '' AFTER click_id_type;
