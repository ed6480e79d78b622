"""Snowplow tracker-protocol events become canonical events by the shared steps."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.dead_letters import DropReason
from schemas.events import Event, HitSource, RawHit
from stream_processors.normalize.pipeline import normalize_hit
from stream_processors.normalize.steps import Drop

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def hit(parameters: dict[str, str]) -> RawHit:
    return RawHit(
        hit_id=uuid.uuid4(), source=HitSource.SNOWPLOW, received_at=RECEIVED, site_id=parameters.get("aid", ""),
        query=parameters, ip="198.51.100.9", user_agent="python-requests", referer="",
    )  # fmt: skip


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def test_a_page_view_keeps_ids_title_and_corrected_time() -> None:
    event_id = str(uuid.uuid4())
    ahead = timedelta(hours=1)
    event = normalize_hit(
        hit({"e": "pv", "aid": "shop", "eid": event_id, "url": "https://shop.example/", "page": "Home",
             "duid": "d-1", "uid": "u-1", "dtm": ms(RECEIVED + ahead - timedelta(seconds=4)),
             "stm": ms(RECEIVED + ahead), "ua": "Mozilla/5.0 (tracker)"})
    )  # fmt: skip
    assert isinstance(event, Event)
    assert (event.event_id, event.event_name, event.anonymous_id, event.user_id) == (
        uuid.UUID(event_id), "page_view", "d-1", "u-1",
    )  # fmt: skip
    assert event.properties["title"] == "Home"
    assert event.event_time == RECEIVED - timedelta(seconds=4)
    assert event.user_agent == "Mozilla/5.0 (tracker)"


def test_a_base64_self_describing_event_is_named_by_its_schema() -> None:
    inner = {"schema": "iglu:com.acme/checkout_step/jsonschema/1-0-0", "data": {"step": 2, "option": "express"}}
    wrapped = orjson.dumps(
        {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": inner}
    )
    event = normalize_hit(
        hit({"e": "ue", "aid": "shop", "ue_px": base64.urlsafe_b64encode(wrapped).decode().rstrip("=")})
    )
    assert isinstance(event, Event)
    assert event.event_name == "checkout_step"
    assert event.properties == {"step": "2", "option": "express", "schema": inner["schema"]}


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"e": "pv", "aid": "shop"}, DropReason.MISSING_URL),
        ({"e": "xx", "aid": "shop"}, DropReason.INVALID_MESSAGE),
        ({"e": "ue", "aid": "shop", "ue_pr": "{}"}, DropReason.INVALID_MESSAGE),
        ({"e": "ue", "aid": "shop", "ue_px": "%%%"}, DropReason.INVALID_MESSAGE),
        ({"e": "se", "aid": "shop", "dtm": "soon"}, DropReason.INVALID_TIMESTAMP),
        ({"e": "se", "aid": "shop", "se_ac": "add", "eid": "not-a-uuid"}, DropReason.INVALID_EVENT_ID),
    ],
)
def test_bad_tracker_events_are_dropped_with_a_reason(parameters: dict[str, str], reason: DropReason) -> None:
    outcome = normalize_hit(hit(parameters))
    assert isinstance(outcome, Drop)
    assert outcome.reason is reason
