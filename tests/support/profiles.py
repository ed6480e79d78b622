"""Customer profiles for the end-to-end tests: the stream's profiles, read from ClickHouse, must equal the same
figures computed by SQL over the stored events (``stream_processors/profiles/profile_sql.py``)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.journeys import default_journey
from schemas.profiles import RfmThresholds, average_order_value
from stream_processors.journeys.journey_sql import journey_stages_sql
from stream_processors.profiles.profile_sql import profiles_sql

COMPARED = (
    "user_id", "anonymous_ids", "first_seen", "last_seen", "acquisition_channel", "acquisition_referrer_host",
    "acquisition_utm_source", "acquisition_utm_medium", "acquisition_utm_campaign", "sessions", "page_views",
    "emails_sent", "email_opens", "email_clicks", "chat_events", "chat_conversations", "purchases", "revenue",
    "first_purchase_at", "last_purchase_at", "journey_stage",
)  # fmt: skip


def stream_profiles(clickhouse: Client, site_id: str) -> dict[str, dict[str, Any]]:
    columns = ", ".join(
        f"arraySort({column}) AS {column}" if column == "anonymous_ids" else column
        for column in ("person_id", *COMPARED, "returning", "average_order_value", "frequency_score", "monetary_score")
    )
    result = clickhouse.query(
        f"SELECT {columns} FROM beacon.customer_profiles FINAL WHERE site_id = {{s:String}}",
        parameters={"s": site_id},
    )
    return {row[0]: dict(zip(result.column_names[1:], row[1:], strict=True)) for row in result.result_rows}


def sql_profiles(clickhouse: Client, site_id: str) -> dict[str, dict[str, Any]]:
    """The profiles' figures, and each person's stage in the site's (default) customer journey, by SQL."""
    result = clickhouse.query(profiles_sql(site_id))
    journey = default_journey(site_id)
    names = [stage.name for stage in journey.stages]
    stages = {person: names[stage - 1] for person, stage in clickhouse.query(journey_stages_sql(journey)).result_rows}
    return {
        row[0]: {**dict(zip(result.column_names[1:], row[1:], strict=True)), "journey_stage": stages.get(row[0], "")}
        for row in result.result_rows
    }


def _differences(stream: dict[str, dict[str, Any]], sql: dict[str, dict[str, Any]]) -> dict[str, Any]:
    differences: dict[str, Any] = {}
    for person in sorted(stream.keys() | sql.keys()):
        mine, truth = stream.get(person), sql.get(person)
        if mine is None or truth is None:
            differences[person] = ("stream" if truth is None else "sql", "only")
            continue
        wrong = {column: (mine[column], truth[column]) for column in COMPARED if mine[column] != truth[column]}
        if wrong:
            differences[person] = wrong
    return differences


def assert_profiles_equal_sql(clickhouse: Client, site_id: str, timeout_seconds: float = 60) -> dict[str, Any]:
    """Once the stream has caught up, every person's profile equals SQL over their events; the stream's profiles,
    returned for further checks."""
    deadline = time.monotonic() + timeout_seconds
    while differences := _differences(
        stream := stream_profiles(clickhouse, site_id), sql_profiles(clickhouse, site_id)
    ):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(differences)} profiles differ (stream, sql), e.g. {list(differences.items())[:3]}"
            )
        time.sleep(0.5)
    rfm = RfmThresholds()
    for person, profile in stream.items():
        assert profile["returning"] == (profile["sessions"] > 1), person
        assert profile["average_order_value"] == average_order_value(Decimal(profile["revenue"]), profile["purchases"])
        assert profile["frequency_score"] == rfm.frequency_score(profile["purchases"]), person
        assert profile["monetary_score"] == rfm.monetary_score(profile["purchases"], profile["revenue"]), person
    return stream
