"""The Segment-compatible API, driven by the real Segment and RudderStack Python SDKs and by raw HTTP.

Every assertion reads ClickHouse, so the whole path (collector, Kafka, normalize agent, writer) is real.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite


def rows(clickhouse: Client, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
    return clickhouse.query(sql, parameters=parameters).result_rows


def events_of_user(clickhouse: Client, user_id: str, expected: int) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT event_name, anonymous_id, user_id, url, properties, source FROM beacon.events FINAL"
        " WHERE user_id = {u:String} ORDER BY event_time, event_name"
    )
    wait_until(lambda: len(rows(clickhouse, sql, u=user_id)) >= expected, what=f"{expected} events of {user_id}")
    return rows(clickhouse, sql, u=user_id)


SdkFactory = Callable[[str, str, list[Exception]], Any]


def segment_sdk(write_key: str, host: str, failures: list[Exception]) -> Any:
    return SegmentClient(write_key, host=host, gzip=True, sync_mode=True, on_error=lambda e, _: failures.append(e))


def rudder_sdk(write_key: str, host: str, failures: list[Exception]) -> Any:
    return RudderClient(write_key, host=host, gzip=True, sync_mode=True, on_error=lambda e, _: failures.append(e))


@pytest.mark.parametrize(
    "make_client", [segment_sdk, rudder_sdk], ids=["segment-analytics-python", "rudder-sdk-python"]
)
def test_real_sdks_work_unchanged(
    make_client: SdkFactory, beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    failures: list[Exception] = []
    client = make_client(registered_site.write_key, beacon_stack.collector_url, failures)
    user = f"user-{uuid.uuid4().hex[:8]}"
    when = datetime.now(UTC) - timedelta(minutes=2)
    client.identify(user, {"email_domain": "example.com", "plan": "pro"}, timestamp=when)
    client.page(user, category="Docs", name="Pricing", properties={"url": "https://shop.example/pricing"},
                timestamp=when + timedelta(seconds=1))  # fmt: skip
    client.track(user, "Order Completed", {"revenue": 42.5, "currency": "EUR", "items": 2},
                 timestamp=when + timedelta(seconds=2))  # fmt: skip
    client.screen(user, "Home", timestamp=when + timedelta(seconds=3))
    client.group(user, "acme-corp", {"seats": 12}, timestamp=when + timedelta(seconds=4))
    client.alias("anonymous-before-login", user, timestamp=when + timedelta(seconds=5))
    client.flush()
    assert failures == []

    stored = events_of_user(clickhouse, user, 6)
    assert [event[0] for event in stored] == [
        "identify",
        "page_view",
        "Order Completed",
        "screen_view",
        "group",
        "alias",
    ]
    identify, page, order, _screen, group, alias = stored
    assert identify[4] == {"email_domain": "example.com", "plan": "pro"}
    assert page[3] == "https://shop.example/pricing"
    assert page[4]["name"] == "Pricing"
    assert order[4] == {"revenue": "42.5", "currency": "EUR", "items": "2"}
    assert group[4] == {"seats": "12", "group_id": "acme-corp"}
    assert alias[4] == {"previous_id": "anonymous-before-login"}
    assert {event[5] for event in stored} == {"segment"}
    event_times = rows(
        clickhouse,
        "SELECT min(event_time) FROM beacon.events FINAL WHERE user_id = {u:String}",
        u=user,
    )[0][0]
    assert abs(event_times.replace(tzinfo=UTC) - when) < timedelta(seconds=2), "client timestamps are kept"


def post(stack: StackSettings, path: str, body: Any, write_key: str | None, **kwargs: Any) -> httpx.Response:
    auth = (write_key, "") if write_key is not None else None
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(f"{stack.collector_url}{path}", content=content, auth=auth, timeout=10, **kwargs)


def test_a_partly_invalid_batch_accepts_the_valid_and_lists_the_refused(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    good_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
    batch = {
        "batch": [
            {"type": "track", "event": "Signed Up", "userId": user, "messageId": good_id},
            {"type": "track", "userId": user, "messageId": bad_id},  # no event name
            {"type": "page", "userId": user, "properties": {"url": "ftp://files.example/"}},
            "not even an object",
        ],
        "sentAt": datetime.now(UTC).isoformat(),
    }
    response = post(beacon_stack, "/v1/batch", batch, registered_site.write_key)
    assert response.status_code == 400
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(error["index"], error["reason"]) for error in answer["errors"]] == [
        (1, "invalid_message"),
        (2, "invalid_url"),
        (3, "invalid_message"),
    ]
    assert answer["errors"][0]["messageId"] == bad_id
    assert "event" in answer["errors"][0]["detail"]
    assert events_of_user(clickhouse, user, 1)[0][0] == "Signed Up"
    wait_until(
        lambda: (
            len(rows(clickhouse, "SELECT 1 FROM beacon.dead_letters WHERE payload LIKE {m:String}", m=f"%{user}%")) >= 2
        ),
        what="the refused messages in dead letters",
    )
    stored = rows(
        clickhouse,
        "SELECT stage, reason, site_id FROM beacon.dead_letters WHERE payload LIKE {m:String} ORDER BY reason",
        m=f"%{user}%",
    )
    assert stored == [
        ("collector", "invalid_message", registered_site.site_id),
        ("collector", "invalid_url", registered_site.site_id),
    ]


def test_single_calls_gzip_and_write_key_in_the_body(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    track = {
        "event": "Viewed Product",
        "userId": user,
        "properties": {"sku": "A-1"},
        "writeKey": registered_site.write_key,
    }
    response = post(
        beacon_stack, "/v1/track", gzip.compress(orjson.dumps(track)), None, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    assert events_of_user(clickhouse, user, 1)[0][4] == {"sku": "A-1"}


def test_a_wrong_write_key_is_a_401_and_a_dead_letter(beacon_stack: StackSettings, clickhouse: Client) -> None:
    marker = uuid.uuid4().hex
    response = post(beacon_stack, "/v1/track", {"event": "x", "userId": marker}, "bk_not-a-real-key")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    wait_until(
        lambda: (
            rows(clickhouse, "SELECT reason FROM beacon.dead_letters WHERE payload LIKE {m:String}", m=f"%{marker}%")
            == [("invalid_write_key",)]
        ),
        what="the unauthenticated request in dead letters",
    )


def test_size_limits(beacon_stack: StackSettings, registered_site: RegisteredSite) -> None:
    big_message = {"type": "track", "event": "Big", "userId": "u", "properties": {"blob": "x" * 40_000}}
    answer = post(beacon_stack, "/v1/batch", {"batch": [big_message]}, registered_site.write_key)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["reason"] == "payload_too_large"
    too_big_batch = {"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"b": "x" * 30_000}}] * 20}
    assert post(beacon_stack, "/v1/batch", too_big_batch, registered_site.write_key).status_code == 413
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    answer = post(beacon_stack, "/v1/batch", bomb, registered_site.write_key, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413


def test_malformed_bodies_get_precise_errors(beacon_stack: StackSettings, registered_site: RegisteredSite) -> None:
    assert post(beacon_stack, "/v1/batch", b"{not json", registered_site.write_key).json()["code"] == "invalid_json"
    assert post(beacon_stack, "/v1/batch", {"batch": "nope"}, registered_site.write_key).status_code == 400
    unsupported = post(beacon_stack, "/v1/track", b"{}", registered_site.write_key, headers={"Content-Encoding": "br"})
    assert unsupported.status_code == 415


def test_chat_widget_events_are_typed(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    conversation = {"conversation_id": f"conv-{user}"}
    batch = {
        "batch": [
            {
                "type": "track",
                "userId": user,
                "event": "chat_conversation_started",
                "properties": {**conversation, "channel": "web"},
            },
            {"type": "track", "userId": user, "event": "chat_rated", "properties": {**conversation, "rating": 4}},
            {"type": "track", "userId": user, "event": "chat_rated", "properties": {**conversation, "rating": 9}},
        ]
    }
    response = post(beacon_stack, "/v1/batch", batch, registered_site.write_key)
    assert response.status_code == 400
    assert [(error["index"], error["reason"]) for error in response.json()["errors"]] == [(2, "invalid_property")]
    stored = events_of_user(clickhouse, user, 2)
    assert [(event[0], event[4].get("rating")) for event in stored] == [
        ("chat_conversation_started", None),
        ("chat_rated", "4"),
    ]


def test_unreadable_bodies_are_kept_in_dead_letters_with_their_size(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    marker = uuid.uuid4().hex
    not_json = post(beacon_stack, "/v1/batch", f"{{{marker}".encode(), registered_site.write_key)
    oversized = post(beacon_stack, "/v1/batch", marker.encode() + b"x" * 600_000, registered_site.write_key)
    bad_encoding = post(beacon_stack, "/v1/track", marker.encode(), registered_site.write_key,
                        headers={"Content-Encoding": "br"})  # fmt: skip
    expected = {
        not_json.json()["deadLetterId"]: ("unparseable_payload", 33),
        oversized.json()["deadLetterId"]: ("payload_too_large", 600_032),
        bad_encoding.json()["deadLetterId"]: ("unparseable_payload", 32),
    }
    sql = (
        "SELECT toString(dead_letter_id), reason, payload_bytes FROM beacon.dead_letters"
        " WHERE dead_letter_id IN {ids:Array(UUID)}"
    )

    def recorded() -> dict[str, tuple[str, int]]:
        return {row[0]: (row[1], row[2]) for row in rows(clickhouse, sql, ids=list(expected))}

    wait_until(lambda: len(recorded()) == 3, what="the three unreadable bodies in dead letters")
    assert recorded() == expected
