"""Inputs the fuzz suite (tests/fuzz) found that raised instead of being refused: each is now a refusal.

A raise in the collector was a 500 without a dead letter; in the stream's normalize agent it crashed the
agent and lost the hit. These are the pure functions involved; tests/fuzz/test_found_by_fuzzing.py sends the
same inputs through the running stack.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import orjson
import pytest
from starlette.requests import Request

from collector.cors import origin_host, origin_refused
from collector.request_body import MAX_NESTING, UnreadableBodyError, read_json_body
from schemas.dead_letters import DropReason
from schemas.events import HitSource, RawHit
from schemas.sites import Site
from stream_processors.normalize.pipeline import normalize_hit
from stream_processors.normalize.steps import Drop

RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
YEAR_2001_MS = "978307200000"
YEAR_9999_MS = "253402300799000"


def raw_hit(source: HitSource, *, query: dict[str, str] | None = None, body: object = None) -> RawHit:
    return RawHit(
        hit_id=UUID("00000000-0000-4000-8000-000000000001"),
        source=source,
        received_at=RECEIVED,
        site_id="shop",
        query=query or {},
        body=None if body is None else orjson.dumps(body).decode(),
        ip="203.0.113.77",
        user_agent="fuzz",
        referer="",
    )


def drop_of(hit: RawHit) -> Drop:
    outcome = normalize_hit(hit)
    assert isinstance(outcome, Drop), outcome
    return outcome


@pytest.mark.parametrize(
    "hit",
    [
        # ts in 2001 and st in 9999: an age of 8,000 years, which the receipt time cannot be moved back by
        raw_hit(HitSource.PIXEL, query={"url": "https://shop.example/", "ts": YEAR_2001_MS, "st": YEAR_9999_MS}),
        raw_hit(HitSource.SNOWPLOW, query={"e": "se", "dtm": YEAR_2001_MS, "stm": YEAR_9999_MS}),
        raw_hit(
            HitSource.SEGMENT,
            body={
                "type": "track",
                "event": "x",
                "userId": "u",
                "timestamp": "2001-01-01T00:00:00Z",
                "sentAt": "9999-12-31T00:00:00Z",
            },
        ),
        # valid ISO 8601 that lies beyond year 9999 (or before year 1) once in UTC
        raw_hit(
            HitSource.SEGMENT,
            body={"type": "track", "event": "x", "userId": "u", "timestamp": "9999-12-31T23:59:59-10:00"},
        ),
        raw_hit(
            HitSource.SEGMENT,
            body={"type": "track", "event": "x", "userId": "u", "timestamp": "0001-01-01T00:00:00+01:00"},
        ),
    ],
    ids=["pixel-age", "snowplow-age", "segment-age", "segment-after-9999", "segment-before-1"],
)
def test_times_out_of_datetime_range_are_invalid_timestamps(hit: RawHit) -> None:
    assert drop_of(hit).reason is DropReason.INVALID_TIMESTAMP


def test_an_event_whose_age_puts_it_before_2000_is_refused_like_its_time() -> None:
    query = {"url": "https://shop.example/", "ts": YEAR_2001_MS, "st": str(int(RECEIVED.timestamp() * 1000) * 2)}
    assert drop_of(raw_hit(HitSource.PIXEL, query=query)).reason is DropReason.INVALID_TIMESTAMP


@pytest.mark.parametrize("url", ["http://[::1", "https://[2001:db8::1/x", "http://]/"])
def test_a_url_that_urlsplit_refuses_is_an_invalid_url(url: str) -> None:
    assert drop_of(raw_hit(HitSource.PIXEL, query={"url": url})).reason is DropReason.INVALID_URL
    segment = {"type": "page", "userId": "u", "context": {"page": {"url": url}}}
    assert drop_of(raw_hit(HitSource.SEGMENT, body=segment)).reason is DropReason.INVALID_URL


@pytest.mark.parametrize("origin", ["https://shop.example:99999", "http://[::1", "https://[shop.example]:x"])
def test_an_origin_that_is_no_url_names_no_host_and_is_refused(origin: str) -> None:
    site = Site(site_id="shop", name="Shop", domains=("shop.example",), updated_at=RECEIVED)
    assert origin_host(origin) == ""
    assert origin_refused(site, origin)


def _request(body: bytes) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/v1/track", "headers": []}, receive)


async def _read(body: bytes) -> object:
    parsed, _ = await read_json_body(_request(body), 500 * 1024)
    return parsed


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 1024])
async def test_json_nested_deeper_than_orjson_writes_is_refused_as_invalid_json(depth: int) -> None:
    body = b'{"type":"track","event":"x","userId":"u","properties":{"d":' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(UnreadableBodyError) as refusal:
        await _read(body)
    assert (refusal.value.status, refusal.value.code) == (400, "invalid_json")
    assert refusal.value.reason is DropReason.UNPARSEABLE_PAYLOAD
    assert refusal.value.payload == body, "the dead letter keeps the body as received"


async def test_json_nested_as_deep_as_orjson_writes_is_read() -> None:
    depth = MAX_NESTING - 2  # inside the object and its "d"
    body = b'{"d":' + b"[" * depth + b"]" * depth + b"}"
    assert isinstance(await _read(body), dict)


def test_an_integer_beyond_64_bits_in_a_self_describing_event_is_kept_as_text() -> None:
    """Found by the OpenAPI fuzzing: orjson cannot write 2**70, and the collector's per-item check raised."""
    event = {"schema": "iglu:com.acme/thing/jsonschema/1-0-0", "data": {"count": 2**70, "nested": [2**70]}}
    envelope = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": event}
    hit = raw_hit(HitSource.SNOWPLOW, query={"e": "ue", "ue_pr": json.dumps(envelope), "url": "https://shop.example/"})
    outcome = normalize_hit(hit)
    assert not isinstance(outcome, Drop), outcome
    assert outcome.properties["count"] == str(2**70)
    assert outcome.properties["nested"] == f"[{2**70}]"
