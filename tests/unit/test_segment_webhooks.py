"""Segment webhooks (pure): destinations in a segment's YAML, signatures and their verification, delivery ids,
the retry policy, and which offsets may be committed while deliveries finish out of order."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from destinations.pending_offsets import PartitionProgress
from destinations.settings import SegmentWebhookSettings
from destinations.webhook_requests import DELIVERY_ID_HEADER, delivery_id, webhook_request
from destinations.webhook_retries import Answer, RetryPolicy, Unreachable, Verdict, judge, retry_after_seconds
from destinations.webhook_signatures import SIGNATURE_HEADER, sign, verify_signature
from runtime.settings import SettingsError, load_settings
from schemas.segments import Change, InvalidSegmentError, SegmentChange, read_segment_definition, segment_yaml

ROOT = Path(__file__).resolve().parents[2]
SEGMENT = """
segment_id: keen
site_id: shop
rules:
  - count: {event: product_viewed}
    at_least: 3
    in_last: 7d
"""
WITH_WEBHOOKS = (
    SEGMENT
    + """webhooks:
  - url: https://hooks.example.com/beacon
  - {url: "http://crm.internal:8000/in?list=keen", timeout: 5s, give_up_after: 2h}
"""
)
CHANGE = SegmentChange(
    site_id="shop", segment_id="keen", segment_version="3f1c0a9b7e21", person_id="u-1", change=Change.ENTERED,
    sequence=1, changed_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC), event_id="",
)  # fmt: skip
NOW = 1_795_000_000


def test_webhooks_are_read_validated_and_round_trip_without_changing_the_version() -> None:
    plain = read_segment_definition(SEGMENT)
    hooked = read_segment_definition(WITH_WEBHOOKS)
    assert [hook.url for hook in hooked.webhooks] == [
        "https://hooks.example.com/beacon",
        "http://crm.internal:8000/in?list=keen",
    ]
    assert hooked.webhooks[1].timeout_ms == 5000
    assert hooked.webhooks[1].give_up_after_ms == 2 * 3600 * 1000
    assert hooked.webhooks[1].shown_url == "http://crm.internal:8000/in"
    assert hooked.version == plain.version, "webhooks are not part of a segment's meaning"
    assert read_segment_definition(segment_yaml(hooked)) == hooked
    assert "webhooks" not in segment_yaml(plain)
    for bad, why in (
        ("ftp://hooks.example.com/x", "http"),
        ("/relative", "http"),
        ("https://hooks.example.com/x#part", "fragment"),
    ):
        with pytest.raises(InvalidSegmentError, match=why):
            read_segment_definition(SEGMENT + f"webhooks: [{{url: '{bad}'}}]\n")
    with pytest.raises(InvalidSegmentError, match="once"):
        read_segment_definition(SEGMENT + "webhooks: [{url: 'https://a.example/'}, {url: 'https://a.example/'}]\n")
    with pytest.raises(InvalidSegmentError, match="timeout"):
        read_segment_definition(SEGMENT + "webhooks: [{url: 'https://a.example/', timeout: soon}]\n")


def test_a_signature_verifies_with_each_key_and_only_for_that_body_and_time() -> None:
    body = b'{"change":"entered"}'
    header = sign(["new-key", "old-key"], body, NOW)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}", header)
    assert verify_signature("new-key", header, body, now=NOW)
    assert verify_signature("old-key", header, body, now=NOW + 299), "a receiver still on the old key accepts"
    assert not verify_signature("other-key", header, body, now=NOW)
    assert not verify_signature("new-key", header, body + b" ", now=NOW), "a changed body fails"
    assert not verify_signature("new-key", header, body, tolerance=300, now=NOW + 301), "too old: a replay"
    assert not verify_signature("new-key", header.replace(f"t={NOW}", f"t={NOW + 1}"), body, now=NOW)
    assert not verify_signature("new-key", "", body, now=NOW)
    assert not verify_signature("new-key", "v1=abc,t=x", body, now=NOW)
    with pytest.raises(ValueError, match="key"):
        sign([], body, NOW)


def test_the_receivers_snippet_in_the_docs_is_the_function_itself() -> None:
    docs = (ROOT / "docs" / "segments.md").read_text()
    assert inspect.getsource(verify_signature) in docs


def test_a_request_is_signed_and_keeps_its_delivery_id_on_every_attempt() -> None:
    first = webhook_request(CHANGE, "https://a.example/", ["key"], attempt=1, timestamp=NOW)
    again = webhook_request(CHANGE, "https://a.example/", ["key"], attempt=2, timestamp=NOW + 60)
    other = webhook_request(CHANGE, "https://b.example/", ["key"], attempt=1, timestamp=NOW)
    assert SegmentChange.model_validate_json(first.body) == CHANGE
    assert first.headers["Content-Type"] == "application/json"
    assert verify_signature("key", first.headers[SIGNATURE_HEADER], first.body, now=NOW)
    assert (
        first.headers[DELIVERY_ID_HEADER]
        == again.headers[DELIVERY_ID_HEADER]
        == str(delivery_id(CHANGE, "https://a.example/"))
    )
    assert other.headers[DELIVERY_ID_HEADER] != first.headers[DELIVERY_ID_HEADER], "one id per destination"
    exited = CHANGE.model_copy(update={"change": Change.EXITED, "sequence": 2})
    assert delivery_id(exited, "https://a.example/") != delivery_id(CHANGE, "https://a.example/")


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (Answer(200), Verdict.DELIVERED),
        (Answer(204), Verdict.DELIVERED),
        (Answer(503), Verdict.RETRY),
        (Answer(500), Verdict.RETRY),
        (Answer(429), Verdict.RETRY),
        (Answer(408), Verdict.RETRY),
        (Unreachable("ConnectError: refused"), Verdict.RETRY),
        (Unreachable("ReadTimeout"), Verdict.RETRY),
        (Answer(400), Verdict.REJECTED),
        (Answer(404), Verdict.REJECTED),
        (Answer(410), Verdict.REJECTED),
        (Answer(301), Verdict.REJECTED),
    ],
)
def test_what_is_retried_and_what_is_refused_for_good(outcome: Answer | Unreachable, verdict: Verdict) -> None:
    assert judge(outcome) == verdict


def test_backoff_doubles_with_jitter_up_to_a_ceiling_and_gives_up_by_attempts_or_age() -> None:
    policy = RetryPolicy(max_attempts=6, give_up_after_seconds=100, first_retry_seconds=1, max_retry_seconds=8)
    lowest = [policy.backoff_seconds(failed, lambda: 0.0) for failed in range(1, 7)]
    highest = [policy.backoff_seconds(failed, lambda: 1.0) for failed in range(1, 7)]
    assert lowest == [0.5, 1, 2, 4, 4, 4]
    assert highest == [1, 2, 4, 8, 8, 8]
    assert policy.next_attempt_in(1, 0, None, lambda: 0.5) == 0.75
    assert policy.next_attempt_in(1, 0, 30, lambda: 0.5) == 30, "Retry-After is honoured when longer"
    assert policy.next_attempt_in(6, 0, None, lambda: 0.5) is None, "the last attempt failed"
    assert policy.next_attempt_in(2, 99, None, lambda: 0.5) is None, "the next one would be too late"
    assert policy.next_attempt_in(1, 0, 500, lambda: 0.5) is None, "asked to wait past the age limit"


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(" 0 ", now) == 0
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, now) == 90
    assert retry_after_seconds("Mon, 23 Nov 2026 09:00:00 GMT", now) == 0, "a date in the past: at once"
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("soon", now) is None


def test_offsets_are_committed_only_past_finished_changes() -> None:
    progress = PartitionProgress()
    assert progress.committable() is None
    for offset in (10, 11, 12, 13):
        progress.started(offset)
    progress.finished(12)
    progress.finished(11)
    assert progress.committable() == 10, "10 is still being delivered: a crash re-delivers 10..13"
    progress.finished(10)
    assert progress.committable() == 13
    assert len(progress) == 1
    progress.finished(13)
    assert progress.committable() == 14
    assert len(progress) == 0


def test_the_sender_refuses_to_start_without_a_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACON_WEBHOOK_SIGNING_KEYS", raising=False)
    with pytest.raises(SettingsError, match="BEACON_WEBHOOK_SIGNING_KEYS"):
        load_settings(SegmentWebhookSettings)
    monkeypatch.setenv("BEACON_WEBHOOK_SIGNING_KEYS", " new-key , old-key ,")
    assert load_settings(SegmentWebhookSettings).signing_keys() == ["new-key", "old-key"]
