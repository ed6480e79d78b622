-- Engagement for analysts and dashboards: each page view's engagement (a view), and per-site rollups by
-- minute and by day (materialized views into AggregatingMergeTree tables).

-- Each page view with its time on page, engaged time and scroll depth. The tracker's contract: a page_ping
-- carries `engaged_ms` (engaged time since the previous ping of the same page view), `scroll_depth` (the
-- furthest % scrolled so far) and `page_view_id` (the event_id of its page view). Time on page runs to the next
-- page view of the same session, the session each page view is in now (beacon.event_sessions' rule, applied to
-- page views only); it is NULL for the last page view of a session, whose end nothing marks. A ping's
-- engaged_ms is read as the sessionizer reads it: a number, cut to whole ms, 0 to 1 hour, 0 if unreadable.
CREATE VIEW IF NOT EXISTS beacon.page_engagement AS
WITH
    page_views AS (
        SELECT
            e.site_id AS site_id,
            e.event_id AS page_view_id,
            if(c.event_id = toUUID('00000000-0000-0000-0000-000000000000'), e.session_id, c.session_id)
                AS session_id,
            e.visitor_id AS visitor_id,
            e.user_id AS user_id,
            e.url AS url,
            e.event_time AS viewed_at,
            e.is_bot AS is_bot
        FROM beacon.events AS e FINAL
        LEFT JOIN (SELECT site_id, event_id, argMax(session_id, changed_at) AS session_id
                   FROM beacon.event_session_changes GROUP BY site_id, event_id) AS c
            ON e.site_id = c.site_id AND e.event_id = c.event_id
        WHERE e.event_name = 'page_view'
    ),
    pings AS (
        SELECT
            site_id,
            toUUIDOrZero(properties['page_view_id']) AS page_view_id,
            count() AS pings,
            sum(toUInt64(if(isFinite(toFloat64OrZero(properties['engaged_ms'])),
                            least(greatest(toFloat64OrZero(properties['engaged_ms']), 0), 3600000), 0)))
                AS engaged_ms,
            max(toUInt8OrNull(toString(round(least(greatest(toFloat64OrNull(properties['scroll_depth']), 0), 100)))))
                AS max_scroll_depth
        FROM beacon.events FINAL
        WHERE event_name = 'page_ping' AND properties['page_view_id'] != ''
        GROUP BY site_id, page_view_id
    ),
    ordered AS (
        SELECT
            *,
            session_id != toUUID('00000000-0000-0000-0000-000000000000') AS in_session,
            row_number() OVER in_order AS position,
            leadInFrame(toNullable(viewed_at), 1, NULL) OVER in_order AS next_viewed_at
        FROM page_views
        WINDOW in_order AS (PARTITION BY site_id, session_id ORDER BY viewed_at, toString(page_view_id)
                            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    )
SELECT
    o.site_id AS site_id,
    o.page_view_id AS page_view_id,
    o.session_id AS session_id,
    o.visitor_id AS visitor_id,
    o.user_id AS user_id,
    o.url AS url,
    o.viewed_at AS viewed_at,
    toUInt32(if(o.in_session, o.position, 0)) AS page_number,
    toBool(o.next_viewed_at IS NULL OR NOT o.in_session) AS is_exit,
    if(o.in_session, dateDiff('millisecond', o.viewed_at, o.next_viewed_at), NULL) AS time_on_page_ms,
    p.engaged_ms AS engaged_ms,
    p.max_scroll_depth AS max_scroll_depth,
    p.pings AS pings,
    o.is_bot AS is_bot
FROM ordered AS o
LEFT JOIN pings AS p ON p.site_id = o.site_id AND p.page_view_id = o.page_view_id;

-- Per-site rollups for dashboards, by minute (kept 90 days) and by UTC day. Filled as rows arrive, from
-- beacon.events and beacon.sessions, by the materialized views below. Re-deliveries never count twice: a
-- materialized view sees every inserted copy of an event, so events are counted as exact distinct event_ids
-- (uniqExact states), and sessions by their sign (the writer never inserts a session row twice; a new version
-- comes with the cancellation of the previous one). Read with uniqExactMerge(...) and sum(...).
CREATE TABLE IF NOT EXISTS beacon.site_traffic_by_minute
(
    site_id            LowCardinality(String),
    minute             DateTime('UTC'),
    is_bot             Bool,
    page_views         AggregateFunction(uniqExact, UUID),
    visitors           AggregateFunction(uniqExact, String),
    sessions           SimpleAggregateFunction(sum, Int64),
    bounces            SimpleAggregateFunction(sum, Int64),
    engaged_sessions   SimpleAggregateFunction(sum, Int64),
    session_page_views SimpleAggregateFunction(sum, Int64),
    duration_ms        SimpleAggregateFunction(sum, Int64),
    engaged_ms         SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (site_id, minute, is_bot)
TTL minute + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS beacon.site_traffic_by_day
(
    site_id            LowCardinality(String),
    day                Date,
    is_bot             Bool,
    page_views         AggregateFunction(uniqExact, UUID),
    visitors           AggregateFunction(uniqExact, String),
    sessions           SimpleAggregateFunction(sum, Int64),
    bounces            SimpleAggregateFunction(sum, Int64),
    engaged_sessions   SimpleAggregateFunction(sum, Int64),
    session_page_views SimpleAggregateFunction(sum, Int64),
    duration_ms        SimpleAggregateFunction(sum, Int64),
    engaged_ms         SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day, is_bot);

CREATE TABLE IF NOT EXISTS beacon.site_events_by_minute
(
    site_id    LowCardinality(String),
    minute     DateTime('UTC'),
    event_name LowCardinality(String),
    is_bot     Bool,
    events     AggregateFunction(uniqExact, UUID),
    visitors   AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (site_id, minute, event_name, is_bot)
TTL minute + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS beacon.site_events_by_day
(
    site_id    LowCardinality(String),
    day        Date,
    event_name LowCardinality(String),
    is_bot     Bool,
    events     AggregateFunction(uniqExact, UUID),
    visitors   AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day, event_name, is_bot);

-- Visitors are the visitor_ids of the site's events other than email opens and clicks (an email is not a visit).
CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_traffic_by_minute_from_events TO beacon.site_traffic_by_minute
AS SELECT
    site_id,
    toStartOfMinute(event_time) AS minute,
    is_bot,
    uniqExactStateIf(event_id, event_name = 'page_view') AS page_views,
    uniqExactStateIf(visitor_id, source != 'email' AND visitor_id != '') AS visitors
FROM beacon.events
GROUP BY site_id, minute, is_bot;

CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_traffic_by_day_from_events TO beacon.site_traffic_by_day
AS SELECT
    site_id,
    toDate(event_time) AS day,
    is_bot,
    uniqExactStateIf(event_id, event_name = 'page_view') AS page_views,
    uniqExactStateIf(visitor_id, source != 'email' AND visitor_id != '') AS visitors
FROM beacon.events
GROUP BY site_id, day, is_bot;

-- Sessions count in the minute (day) they started; a session whose start moves (a late event) moves with its sign.
CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_traffic_by_minute_from_sessions TO beacon.site_traffic_by_minute
AS SELECT
    site_id,
    toStartOfMinute(start_time) AS minute,
    is_bot,
    sum(sign) AS sessions,
    sum(sign * is_bounce) AS bounces,
    sum(sign * NOT is_bounce) AS engaged_sessions,
    sum(sign * page_views) AS session_page_views,
    sum(sign * duration_ms) AS duration_ms,
    sum(sign * engaged_ms) AS engaged_ms
FROM beacon.sessions
GROUP BY site_id, minute, is_bot;

CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_traffic_by_day_from_sessions TO beacon.site_traffic_by_day
AS SELECT
    site_id,
    toDate(start_time) AS day,
    is_bot,
    sum(sign) AS sessions,
    sum(sign * is_bounce) AS bounces,
    sum(sign * NOT is_bounce) AS engaged_sessions,
    sum(sign * page_views) AS session_page_views,
    sum(sign * duration_ms) AS duration_ms,
    sum(sign * engaged_ms) AS engaged_ms
FROM beacon.sessions
GROUP BY site_id, day, is_bot;

CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_events_by_minute_from_events TO beacon.site_events_by_minute
AS SELECT
    site_id,
    toStartOfMinute(event_time) AS minute,
    event_name,
    is_bot,
    uniqExactState(event_id) AS events,
    uniqExactStateIf(visitor_id, visitor_id != '') AS visitors
FROM beacon.events
GROUP BY site_id, minute, event_name, is_bot;

CREATE MATERIALIZED VIEW IF NOT EXISTS beacon.site_events_by_day_from_events TO beacon.site_events_by_day
AS SELECT
    site_id,
    toDate(event_time) AS day,
    event_name,
    is_bot,
    uniqExactState(event_id) AS events,
    uniqExactStateIf(visitor_id, visitor_id != '') AS visitors
FROM beacon.events
GROUP BY site_id, day, event_name, is_bot;

-- Rows stored before this migration. Events counted again do no harm (distinct ids); sessions are summed, so
-- this must run before the warehouse writer starts, as `./beacon up` and `python -m stack.provision` do.
INSERT INTO beacon.site_traffic_by_minute (site_id, minute, is_bot, page_views, visitors)
SELECT site_id, toStartOfMinute(event_time) AS minute, is_bot,
       uniqExactStateIf(event_id, event_name = 'page_view'),
       uniqExactStateIf(visitor_id, source != 'email' AND visitor_id != '')
FROM beacon.events GROUP BY site_id, minute, is_bot;

INSERT INTO beacon.site_traffic_by_day (site_id, day, is_bot, page_views, visitors)
SELECT site_id, toDate(event_time) AS day, is_bot,
       uniqExactStateIf(event_id, event_name = 'page_view'),
       uniqExactStateIf(visitor_id, source != 'email' AND visitor_id != '')
FROM beacon.events GROUP BY site_id, day, is_bot;

INSERT INTO beacon.site_traffic_by_minute
    (site_id, minute, is_bot, sessions, bounces, engaged_sessions, session_page_views, duration_ms, engaged_ms)
SELECT site_id, toStartOfMinute(start_time) AS minute, is_bot, sum(sign), sum(sign * is_bounce),
       sum(sign * NOT is_bounce), sum(sign * page_views), sum(sign * duration_ms), sum(sign * engaged_ms)
FROM beacon.sessions GROUP BY site_id, minute, is_bot;

INSERT INTO beacon.site_traffic_by_day
    (site_id, day, is_bot, sessions, bounces, engaged_sessions, session_page_views, duration_ms, engaged_ms)
SELECT site_id, toDate(start_time) AS day, is_bot, sum(sign), sum(sign * is_bounce),
       sum(sign * NOT is_bounce), sum(sign * page_views), sum(sign * duration_ms), sum(sign * engaged_ms)
FROM beacon.sessions GROUP BY site_id, day, is_bot;

INSERT INTO beacon.site_events_by_minute (site_id, minute, event_name, is_bot, events, visitors)
SELECT site_id, toStartOfMinute(event_time) AS minute, event_name, is_bot,
       uniqExactState(event_id), uniqExactStateIf(visitor_id, visitor_id != '')
FROM beacon.events GROUP BY site_id, minute, event_name, is_bot;

INSERT INTO beacon.site_events_by_day (site_id, day, event_name, is_bot, events, visitors)
SELECT site_id, toDate(event_time) AS day, event_name, is_bot,
       uniqExactState(event_id), uniqExactStateIf(visitor_id, visitor_id != '')
FROM beacon.events GROUP BY site_id, day, event_name, is_bot;
