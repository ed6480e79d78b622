"""Engagement through the running stack, on generated traffic with retries, late deliveries and events written
twice: each page view's engagement (``beacon.page_engagement``) follows its pings and the sessions, and the
per-site rollups (materialized views into AggregatingMergeTree tables) equal plain SQL over the events and
sessions."""

from __future__ import annotations

from collections import Counter, defaultdict

from clickhouse_connect.driver.client import Client

from stream_processors.visitors.track_event import milliseconds
from tests.e2e.conftest import GeneratedSite
from tests.support.sessions import stored_events

CONVERSIONS = "('Order Completed', 'order_completed', 'purchase')"  # as the sessionizer's bounce rule counts them
GRANULARITIES = (("minute", "toStartOfMinute"), ("day", "toDate"))  # rollup column, and its SQL from a time
Buckets = dict[tuple[object, ...], tuple[int, ...]]


def _buckets(clickhouse: Client, sql: str, site_id: str, keys: int) -> Buckets:
    rows = clickhouse.query(sql, parameters={"s": site_id}).result_rows
    return {tuple(row[:keys]): tuple(int(value) for value in row[keys:]) for row in rows}


def _merged(width: int, *parts: tuple[int, Buckets]) -> Buckets:
    """Buckets from several queries side by side (``(offset, buckets)``), zeros where a query has no row; all-zero
    buckets left out (a session cancelled in its minute leaves one in a rollup)."""
    merged: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0] * width)
    for offset, buckets in parts:
        for key, values in buckets.items():
            merged[key][offset : offset + len(values)] = values
    return {key: tuple(values) for key, values in merged.items() if any(values)}


def _nonzero(buckets: Buckets) -> Buckets:
    return {key: values for key, values in buckets.items() if any(values)}


def test_the_rollups_equal_plain_sql_over_events_and_sessions(
    generated_site: GeneratedSite, clickhouse: Client
) -> None:
    site_id = generated_site.site_id
    # The fixture inserted events a second time: the views saw both copies (merges may since have collapsed
    # them in beacon.events itself).
    # (Merges collapse a cancelled version with its cancellation, so the versions tell what the views saw.)
    corrected = "SELECT countIf(version > 1) FROM beacon.sessions FINAL WHERE site_id = {s:String} AND sign = 1"
    assert clickhouse.query(corrected, parameters={"s": site_id}).result_rows[0][0] > 40, "sessions were corrected"

    for column, bucket in GRANULARITIES:
        table = f"site_traffic_by_{column}"
        rolled_up = _buckets(
            clickhouse,
            f"SELECT {column}, is_bot, uniqExactMerge(page_views), uniqExactMerge(visitors), sum(sessions),"
            " sum(bounces), sum(engaged_sessions), sum(session_page_views), sum(duration_ms), sum(engaged_ms)"
            f" FROM beacon.{table} WHERE site_id = {{s:String}} GROUP BY {column}, is_bot",
            site_id,
            keys=2,
        )
        events = _buckets(
            clickhouse,
            f"SELECT {bucket}(event_time) AS b, is_bot, countIf(event_name = 'page_view'),"
            " uniqExactIf(visitor_id, source != 'email' AND visitor_id != '')"
            " FROM beacon.events FINAL WHERE site_id = {s:String} GROUP BY b, is_bot",
            site_id,
            keys=2,
        )
        sessions = _buckets(
            clickhouse,
            # Engaged by GA4's rule, found again from the events: >= 2 page views, >= 10 s engaged, or a conversion.
            f"SELECT {bucket}(start_time) AS b, is_bot, count(), countIf(NOT engaged), countIf(engaged),"
            " sum(page_views), sum(duration_ms), sum(engaged_ms)"
            " FROM (SELECT *, page_views >= 2 OR engaged_ms >= 10000 OR session_id IN ("
            "   SELECT es.session_id FROM beacon.events AS e FINAL JOIN beacon.event_sessions AS es"
            f"  ON es.site_id = e.site_id AND es.event_id = e.event_id WHERE e.event_name IN {CONVERSIONS}"
            "   AND e.site_id = {s:String}) AS engaged"
            "  FROM beacon.sessions FINAL WHERE site_id = {s:String} AND sign = 1)"
            " GROUP BY b, is_bot",
            site_id,
            keys=2,
        )
        expected = _merged(8, (0, events), (2, sessions))
        assert _nonzero(rolled_up) == expected, table
        totals = [sum(values[index] for values in expected.values()) for index in range(8)]
        assert totals[0] > 100, "page views"
        assert totals[2] > 40, "sessions"
        assert totals[3] > 0, "bounces"
        assert totals[4] > 0, "engaged sessions"

    for column, bucket in GRANULARITIES:
        table = f"site_events_by_{column}"
        rolled_up = _buckets(
            clickhouse,
            f"SELECT {column}, event_name, is_bot, uniqExactMerge(events), uniqExactMerge(visitors)"
            f" FROM beacon.{table} WHERE site_id = {{s:String}} GROUP BY {column}, event_name, is_bot",
            site_id,
            keys=3,
        )
        plain = _buckets(
            clickhouse,
            f"SELECT {bucket}(event_time) AS b, event_name, is_bot, count(), uniqExactIf(visitor_id, visitor_id != '')"
            " FROM beacon.events FINAL WHERE site_id = {s:String} GROUP BY b, event_name, is_bot",
            site_id,
            keys=3,
        )
        assert rolled_up == plain, table
        assert len({name for _, name, _ in plain}) > 10


def test_each_page_view_has_its_time_on_page_engaged_time_and_scroll_depth(
    generated_site: GeneratedSite, clickhouse: Client
) -> None:
    """Against what was planned (the pings) and the reference sessions (the order of page views in each)."""
    site_id = generated_site.site_id
    engaged: Counter[str] = Counter()
    pings: Counter[str] = Counter()
    scrolled: dict[str, int] = {}
    for ping in {event.event_id: event for event in generated_site.planned if event.name == "page_ping"}.values():
        page_view_id = str(ping.properties["page_view_id"])
        engaged[page_view_id] += int(ping.properties["engaged_ms"])
        pings[page_view_id] += 1
        scrolled[page_view_id] = max(scrolled.get(page_view_id, 0), int(ping.properties["scroll_depth"]))
    viewed_at = {
        str(event.event_id): milliseconds(event.event_time)
        for event in stored_events(clickhouse, site_id)
        if event.event_name == "page_view"
    }
    expected: dict[str, tuple[object, ...]] = {}
    for event_ids in generated_site.sessions:
        pages = sorted((viewed_at[event_id], event_id) for event_id in event_ids if event_id in viewed_at)
        for number, (moment, page) in enumerate(pages, start=1):
            time_on_page = pages[number][0] - moment if number < len(pages) else None
            last = time_on_page is None
            expected[page] = (number, last, time_on_page, engaged[page], scrolled.get(page), pings[page])
    assert len(expected) == len(viewed_at), "every page view is in a session"

    rows = clickhouse.query(
        "SELECT toString(page_view_id), toString(session_id), page_number, is_exit, time_on_page_ms, engaged_ms,"
        " max_scroll_depth, pings FROM beacon.page_engagement WHERE site_id = {s:String}",
        parameters={"s": site_id},
    ).result_rows
    stored = {row[0]: (int(row[2]), bool(row[3]), row[4], int(row[5]), row[6], int(row[7])) for row in rows}
    assert len(rows) == len(stored) == len(expected), "one row per page view"
    differences = {page: (stored.get(page), values) for page, values in expected.items() if stored.get(page) != values}
    assert not differences, f"{len(differences)} differ (stored, expected), e.g. {list(differences.items())[:3]}"
    assert sum(1 for values in stored.values() if values[3]) > 50, "page views with engaged time"
    assert sum(1 for values in stored.values() if values[2] is not None) > 50, "page views with a time on page"

    sessions_now = dict(
        clickhouse.query(
            "SELECT toString(event_id), toString(session_id) FROM beacon.event_sessions WHERE site_id = {s:String}",
            parameters={"s": site_id},
        ).result_rows
    )
    assert all(sessions_now[row[0]] == row[1] for row in rows), "each page view's session is the one it is in now"
