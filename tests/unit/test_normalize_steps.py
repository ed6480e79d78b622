"""The normalize pipeline: each rule, each drop reason, and the clock-skew arithmetic."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.dead_letters import KEPT_PAYLOAD_BYTES, DeadLetter, DropReason, Stage
from schemas.events import Consent, Event, HitSource, RawHit
from stream_processors.normalize.pipeline import normalize_hit, normalize_payload, normalize_steps
from stream_processors.normalize.steps import Drop, EventDraft, HitFields, masked_ip

RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def hit(query: dict[str, str], *, ip: str = "203.0.113.77", referer: str = "") -> RawHit:
    return RawHit(
        hit_id=UUID("00000000-0000-4000-8000-000000000001"),
        source=HitSource.PIXEL,
        received_at=RECEIVED,
        site_id=query.get("site", ""),
        query=query,
        ip=ip,
        user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        referer=referer,
    )


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def event_of(query: dict[str, str], **kwargs: str) -> Event:
    outcome = normalize_hit(hit(query, **kwargs))
    assert isinstance(outcome, Event), outcome
    return outcome


def drop_of(query: dict[str, str], **kwargs: str) -> Drop:
    outcome = normalize_hit(hit(query, **kwargs))
    assert isinstance(outcome, Drop), outcome
    return outcome


def test_a_complete_page_view_becomes_a_canonical_event() -> None:
    event_id = uuid4()
    event = event_of(
        {
            "site": "shop",
            "eid": str(event_id),
            "url": "https://shop.example/p/1?utm_source=news",
            "ref": "https://news.example/",
            "aid": "anon-1",
            "uid": "user-9",
            "p.plan": "pro",
            "p.price": "9.90",
        }
    )
    assert event.event_id == event_id
    assert (event.site_id, event.event_name, event.anonymous_id, event.user_id) == (
        "shop",
        "page_view",
        "anon-1",
        "user-9",
    )
    assert event.url == "https://shop.example/p/1?utm_source=news"
    assert event.referrer == "https://news.example/"
    assert event.properties == {"plan": "pro", "price": "9.90"}
    assert event.event_time == RECEIVED
    assert event.source is HitSource.PIXEL


def test_without_eid_the_collectors_hit_id_is_the_event_id() -> None:
    assert event_of({"site": "s", "url": "https://a.example/"}).event_id == UUID("00000000-0000-4000-8000-000000000001")


def test_the_page_url_falls_back_to_the_referer_header() -> None:
    assert event_of({"site": "s"}, referer="https://a.example/page").url == "https://a.example/page"


def test_a_custom_event_needs_no_url() -> None:
    event = event_of({"site": "s", "e": "signup"})
    assert (event.event_name, event.url) == ("signup", "")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"url": "https://a.example/"}, DropReason.MISSING_SITE_ID),
        ({"site": "  ", "url": "https://a.example/"}, DropReason.MISSING_SITE_ID),
        ({"site": "s", "url": "https://a.example/", "eid": "not-a-uuid"}, DropReason.INVALID_EVENT_ID),
        ({"site": "s", "e": "1starts-with-digit"}, DropReason.INVALID_EVENT_NAME),
        ({"site": "s", "e": "x" * 101}, DropReason.INVALID_EVENT_NAME),
        ({"site": "s"}, DropReason.MISSING_URL),
        ({"site": "s", "url": "javascript:alert(1)"}, DropReason.INVALID_URL),
        ({"site": "s", "url": "/relative/path"}, DropReason.INVALID_URL),
        ({"site": "s", "url": "https://a.example/", "ts": "yesterday"}, DropReason.INVALID_TIMESTAMP),
        ({"site": "s", "url": "https://a.example/", "ts": "1000"}, DropReason.INVALID_TIMESTAMP),
        ({"site": "s", "url": "https://a.example/", "p.x": "v" * 2049}, DropReason.INVALID_PROPERTY),
        ({"site": "s", "url": "https://a.example/", "p.": "v"}, DropReason.INVALID_PROPERTY),
    ],
)
def test_invalid_hits_are_dropped_with_their_reason(query: dict[str, str], reason: DropReason) -> None:
    drop = drop_of(query)
    assert drop.reason is reason
    assert drop.detail


def test_too_many_properties_are_refused() -> None:
    query = {"site": "s", "url": "https://a.example/", **{f"p.k{i}": "v" for i in range(65)}}
    assert drop_of(query).reason is DropReason.INVALID_PROPERTY


def test_client_clock_offset_cancels_out_when_sent_at_is_known() -> None:
    # The client's clock is 3 hours fast; the event happened 40 s before it was sent.
    client_event = RECEIVED + timedelta(hours=3) - timedelta(seconds=40)
    client_sent = RECEIVED + timedelta(hours=3)
    event = event_of({"site": "s", "url": "https://a.example/", "ts": ms(client_event), "st": ms(client_sent)})
    assert event.event_time == RECEIVED - timedelta(seconds=40)
    assert not event.time_clamped


def test_sent_at_before_event_time_counts_as_no_delay() -> None:
    query = {"site": "s", "url": "https://a.example/", "ts": ms(RECEIVED), "st": ms(RECEIVED - timedelta(seconds=5))}
    assert event_of(query).event_time == RECEIVED
    assert event_of(query).time_clamped, "flagged: it claims to have happened after it was sent"


def test_client_time_alone_is_trusted_but_never_after_receipt() -> None:
    earlier = RECEIVED - timedelta(minutes=5)
    assert event_of({"site": "s", "url": "https://a.example/", "ts": ms(earlier)}).event_time == earlier
    assert not event_of({"site": "s", "url": "https://a.example/", "ts": ms(earlier)}).time_clamped
    later = RECEIVED + timedelta(hours=2)
    ahead = event_of({"site": "s", "url": "https://a.example/", "ts": ms(later)})
    assert ahead.event_time == RECEIVED
    assert ahead.time_clamped, "a clock ahead of ours is flagged"


@pytest.mark.parametrize(
    ("ip", "stored"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("not-an-ip", ""),
        ("010.1.2.3", ""),
        ("1.2.3", ""),
        ("::ffff:1.2.3.4", "::"),
    ],
)
def test_ip_addresses_are_anonymised(ip: str, stored: str) -> None:
    assert event_of({"site": "s", "url": "https://a.example/"}, ip=ip).ip == stored


def test_a_payload_that_is_not_a_raw_hit_becomes_a_dead_letter_with_a_stable_id() -> None:
    first = normalize_payload(b"{not json", now=RECEIVED)
    second = normalize_payload(b"{not json", now=RECEIVED + timedelta(minutes=1))
    assert isinstance(first, DeadLetter)
    assert isinstance(second, DeadLetter)
    assert first.reason is DropReason.UNPARSEABLE_PAYLOAD
    assert first.stage is Stage.NORMALIZE
    assert first.payload == "{not json"
    assert first.dead_letter_id == second.dead_letter_id


def test_a_dropped_hit_keeps_its_original_payload_and_hit_id() -> None:
    raw = hit({"url": "https://a.example/"})
    letter = normalize_payload(raw.model_dump_json().encode(), now=RECEIVED)
    assert isinstance(letter, DeadLetter)
    assert letter.reason is DropReason.MISSING_SITE_ID
    assert letter.dead_letter_id == raw.hit_id
    assert RawHit.model_validate_json(letter.payload) == raw


@pytest.mark.parametrize(
    ("accept_language", "locale"),
    [("en-GB,en;q=0.9,de;q=0.8", "en-gb"), ("fr", "fr"), ("*", ""), ("", ""), ("<script>", "")],
)
def test_the_first_browser_language_becomes_the_locale(accept_language: str, locale: str) -> None:
    raw = hit({"site": "s", "url": "https://a.example/"}).model_copy(update={"accept_language": accept_language})
    event = normalize_hit(raw)
    assert isinstance(event, Event)
    assert event.locale == locale


def test_privacy_signals_are_kept() -> None:
    raw = hit({"site": "s", "url": "https://a.example/"}).model_copy(
        update={"do_not_track": True, "global_privacy_control": True}
    )
    event = normalize_hit(raw)
    assert isinstance(event, Event)
    assert (event.do_not_track, event.global_privacy_control) == (True, True)


@pytest.mark.parametrize(("stated", "consent"), [({}, Consent.UNKNOWN), ({"consent": "granted"}, Consent.GRANTED),
                                                  ({"consent": "denied"}, Consent.DENIED)])  # fmt: skip
def test_the_pixel_carries_the_stated_consent(stated: dict[str, str], consent: Consent) -> None:
    assert event_of({"site": "s", "url": "https://a.example/", **stated}).consent is consent


def test_a_consent_that_is_neither_granted_nor_denied_is_refused() -> None:
    assert drop_of({"site": "s", "url": "https://a.example/", "consent": "yes"}).reason is DropReason.INVALID_MESSAGE


def test_an_oversized_dead_letter_keeps_its_beginning_and_its_size() -> None:
    letter = DeadLetter.of_unreadable_payload(
        Stage.COLLECTOR, DropReason.PAYLOAD_TOO_LARGE, "too big", b"x" * (KEPT_PAYLOAD_BYTES + 10), RECEIVED,
        payload_bytes=10_000_000,
    )  # fmt: skip
    assert (len(letter.payload), letter.payload_bytes) == (KEPT_PAYLOAD_BYTES, 10_000_000)
    cut = DeadLetter.of_text(uuid4(), Stage.COLLECTOR, DropReason.PAYLOAD_TOO_LARGE, "", "", RECEIVED, RECEIVED,
                             "é" * KEPT_PAYLOAD_BYTES)  # fmt: skip
    assert (len(cut.payload.encode()), cut.payload_bytes) == (KEPT_PAYLOAD_BYTES, 2 * KEPT_PAYLOAD_BYTES)


@given(st.ip_addresses(v=4))
def test_the_ipv4_fast_path_masks_like_ipaddress(address: ipaddress.IPv4Address) -> None:
    assert masked_ip(str(address)) == str(ipaddress.ip_network(f"{address}/24", strict=False).network_address)


def test_the_whole_ip_is_kept_only_when_the_operator_opts_in() -> None:
    raw = hit({"site": "s", "url": "https://a.example/"}, ip="203.0.113.77")
    kept = normalize_hit(raw, normalize_steps(keep_full_ip=True))
    assert isinstance(kept, Event)
    assert kept.ip == "203.0.113.77"
    assert event_of({"site": "s", "url": "https://a.example/"}, ip="203.0.113.77").ip == "203.0.113.0"


def test_a_step_that_fails_keeps_the_hit_as_a_pipeline_error() -> None:
    def broken(fields: HitFields, draft: EventDraft) -> EventDraft:
        raise OverflowError("date value out of range")

    raw = hit({"site": "s", "url": "https://a.example/"})
    letter = normalize_payload(raw.model_dump_json().encode(), now=RECEIVED, steps=(broken,))
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.detail) == (DropReason.PIPELINE_ERROR, "OverflowError: date value out of range")
    assert RawHit.model_validate_json(letter.payload) == raw  # replayable once the step is fixed
