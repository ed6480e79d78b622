"""Hypothesis strategies for every input the collector takes: valid, near-valid and hostile, as ``Probe``s.

Most values are near-valid on purpose (the real site and write key, plausible times and URLs), so the inputs
get past authentication and site admission and exercise validation; the rest are hostile. Text stays short
where size does not matter, and big inputs are built by repetition: generation is the fuzz suite's main cost.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from hypothesis import strategies as st

from schemas.snowplow import PAYLOAD_DATA_SCHEMA_PREFIX
from tests.fuzz.harness import EVENT_ID, MARKER, MESSAGE_ID, Answer, Probe, Token

T = TypeVar("T")
Json = Any
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000
SEGMENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")
JSON_ROUTES = (
    "/v1/batch",
    *(f"/v1/{call}" for call in SEGMENT_TYPES),
    "/api/event",
    "/api/events",
    "/com.snowplowanalytics.snowplow/tp2",
)
TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA_SCHEMA = f"{PAYLOAD_DATA_SCHEMA_PREFIX}4"


def _fits_a_header(value: str) -> bool:
    return value.isascii() and value.isprintable() and value == value.strip()


def _iso(milliseconds_since_epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(milliseconds_since_epoch / 1000)) + ".123Z"


any_text = st.text(st.characters(codec="utf-8"), max_size=24)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)
url_path_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#%?"), max_size=20)


def usually(common: st.SearchStrategy[T], *rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` about three times in four (two in four against several rare ones); hypothesis shrinks towards
    it. ``one_of`` drops a strategy given twice, so the repeats are copies."""
    copies = 2 if len(rare) == 1 else 1
    return st.one_of(common, *(common.map(_same) for _ in range(copies)), *rare)


def _same(value: T) -> T:
    return value


def maybe(values: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.one_of(st.none(), values)


def repeated(character: str, low: int, high: int) -> st.SearchStrategy[str]:
    """A long string, cheaply: one draw of its length."""
    return st.integers(low, high).map(lambda length: character * length)


# --- values shared by every API ---------------------------------------------------------------------------

event_names = st.one_of(
    st.sampled_from(
        [
            "page_view",
            "Order Completed",
            "signup",
            "chat_rated",
            "chat_conversation_started",
            "email_sent",
            "email_clicked",
            "a:b.c-d_e f",
        ]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.:\- ]{0,30}", fullmatch=True),
    any_text,
    repeated("n", 100, 110),
)
http_urls = st.builds(
    "{}://{}/{}".format,
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["shop.example", "sub.shop.example", "127.0.0.1:8080", "[2001:db8::1]", "xn--bcher-kva.ex"]),
    url_path_text,
)
page_urls = st.one_of(
    http_urls,
    st.sampled_from(
        [
            "",
            "not a url",
            "ftp://files.example/",
            "//shop.example/",
            "http://",
            "https:///x",
            "javascript:alert(1)",
            "https://shop.example:99999/",
            "http://[::1",
            "https://exa mple/",
        ]
    ),
    any_text,
    repeated("u", 4000, 4200).map(lambda tail: f"https://shop.example/{tail}"),
)
millisecond_texts = st.one_of(
    st.integers(-30 * DAY_MS, 2 * DAY_MS).map(lambda offset: str(NOW_MS + offset)),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "946684799999",
            "946684800000",
            "253402300799999",
            "253402300800000",
            "99999999999999999999",
            "1e12",
            "1.5",
            " 12",
            "0x10",
            "NaN",
            "١٢٣٤",
            "1_000",
            "9" * 5000,
        ]
    ),
    st.integers().map(str),
    any_text,
)
milliseconds = st.one_of(
    st.integers(-30 * DAY_MS, 2 * DAY_MS).map(lambda offset: NOW_MS + offset),
    st.sampled_from([0, -1, 946_684_799_999, 253_402_300_799_999, 10**14 - 1, 10**14, 2**63, 10**30]),
    st.integers(),
)
iso_times = st.one_of(
    st.integers(-30 * DAY_MS, DAY_MS).map(lambda offset: _iso(NOW_MS + offset)),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-10:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59Z",
            "1999-12-31T23:59:59Z",
            "2024-02-30T00:00:00Z",
            "2024-01-01",
            "yesterday",
            "",
            "2024-01-01T00:00:00+25:00",
        ]
    ),
    st.integers().map(str),
    any_text,
)
plausible_milliseconds = st.integers(-7 * DAY_MS, 60_000).map(lambda offset: NOW_MS + offset)
plausible_iso_times = plausible_milliseconds.map(lambda moment: _iso(moment))
short_ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=24)
common_event_names = st.sampled_from(
    ["page_view", "Order Completed", "add_to_cart", "chat_rated", "chat_message_sent", "email_sent", "signup"]
)
typed_properties = st.fixed_dictionaries(
    {},
    optional={
        "conversation_id": short_ids,
        "rating": st.integers(0, 7),
        "campaign_id": short_ids,
        "message_id": short_ids,
        "recipient_id": short_ids,
    },
)
# Valid ids are always fresh when sent (placeholders): two events with one id count once, by design.
event_ids = st.one_of(
    st.just(EVENT_ID),
    st.just(EVENT_ID),
    st.sampled_from(["", "not-a-uuid", "00000000-0000-0000-0000-00000000000", "{" + EVENT_ID + "}", "x" * 201]),
    any_text,
)
ids = st.one_of(any_text, repeated("i", 190, 210))
json_scalars: st.SearchStrategy[Json] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), any_text
)
json_values: st.SearchStrategy[Json] = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3)),
    max_leaves=6,
)
seldom_extra_fields: st.SearchStrategy[dict[str, Json]] = usually(
    st.just({}), st.dictionaries(st.sampled_from(["extra", "data2"]), json_scalars, min_size=1, max_size=1)
)
client_headers = st.lists(
    st.one_of(
        st.tuples(st.just("User-Agent"), header_text),
        st.tuples(st.just("Referer"), st.one_of(page_urls.filter(_fits_a_header), header_text)),
        st.tuples(
            st.just("Accept-Language"), st.one_of(st.sampled_from(["de-CH,de;q=0.9", "en", "*", ""]), header_text)
        ),
        st.tuples(st.sampled_from(["DNT", "Sec-GPC"]), st.sampled_from(["1", "0", "yes"])),
        st.tuples(
            st.just("X-Forwarded-For"),
            st.sampled_from(["unknown", "::1", "2001:db8::7", "1.2.3.4, 5.6.7.8", "999.1.1.1", ""]),
        ),
    ),
    max_size=3,
)
content_types = st.sampled_from(
    ["text/plain;charset=UTF-8", "application/json", "application/x-www-form-urlencoded", "image/gif", "", "*/*"]
)


def _query(parameters: list[tuple[str, str]], junk: list[str]) -> str:
    encoded = [f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in parameters]
    return "&".join(encoded + junk)


def _json(value: Json) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, which only the standard library writes
        return json.dumps(value).encode()


# --- the pixel: GET /p.gif ----------------------------------------------------------------------------------

raw_query_junk = st.lists(
    st.sampled_from(
        [
            "%",
            "%zz",
            "%ff%fe=%c3%28",
            "a=b=c",
            "",
            "=",
            "==",
            ";",
            "+=+",
            "%00=%00",
            "p.=x",
            "x",
            "site",
            "e=",
            "%E2%82",
            "p.%F0%9F%98%80=%F0%9F%98%80",
            "url=https%3A%2F%2Fshop.example%2F",
        ]
    ),
    max_size=3,
)
property_names = st.one_of(any_text, st.just(""), repeated("k", 128, 140)).filter(lambda name: name != "fuzz")
property_values = st.one_of(any_text, repeated("v", 2040, 2100))


def pixel_probes(site_id: str) -> st.SearchStrategy[Probe]:
    """``GET /p.gif``: the real site mostly, every documented parameter valid, near-valid or odd."""
    return st.builds(
        _pixel_probe,
        site=usually(
            st.just(site_id), st.one_of(st.sampled_from(["", " ", "nobody-registered-this", site_id.upper()]), any_text)
        ),
        optional=st.fixed_dictionaries(
            {},
            optional={
                "e": event_names,
                "eid": event_ids,
                "url": page_urls,
                "ref": st.one_of(page_urls, any_text),
                "aid": ids,
                "uid": ids,
                "ts": millisecond_texts,
                "st": millisecond_texts,
                "consent": st.one_of(st.sampled_from(["granted", "denied", "", "GRANTED", "maybe"]), any_text),
            },
        ),
        properties=st.one_of(
            st.dictionaries(property_names, property_values, max_size=4),
            st.integers(60, 70).map(lambda count: {f"n{index}": "v" for index in range(count)}),
        ),
        junk=raw_query_junk,
        oversized=st.one_of(st.none(), st.none(), st.none(), st.integers(16_000, 40_000)),
        headers=client_headers,
    )


def _pixel_probe(
    site: str,
    optional: dict[str, str],
    properties: dict[str, str],
    junk: list[str],
    oversized: int | None,
    headers: list[tuple[str, str]],
) -> Probe:
    parameters = [("p.fuzz", MARKER), ("site", site), *optional.items()]
    parameters += [(f"p.{name}", value) for name, value in properties.items()]
    if oversized is not None:
        parameters.append(("p.blob", "x" * oversized))
    return Probe("GET", f"/p.gif?{_query(parameters, junk)}", Answer.GIF, tuple(headers))


# --- Snowplow's tracker protocol: GET /i and POST tp2 ---------------------------------------------------------


def _self_describing(data: Json, schema: str) -> str:
    wrapped = {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": schema, "data": data},
    }
    return _json(wrapped).decode()


self_describing_events = st.one_of(
    st.builds(
        _self_describing,
        st.dictionaries(
            any_text.filter(lambda key: key not in ("tracker_namespace", "schema")), json_scalars, max_size=3
        ),
        st.sampled_from(
            [
                "iglu:com.acme/checkout_step/jsonschema/1-0-0",
                "iglu:com.acme/x/jsonschema/1-0",
                "iglu:bad",
                "iglu:com.acme/Check Out!/jsonschema/2-0-1",
            ]
        ),
    ),
    st.builds(_self_describing, json_values, st.just("iglu:com.acme/checkout_step/jsonschema/1-0-0")),
    st.sampled_from(["", "{}", "not json", '{"schema": 1}', "null"]),
)


def _base64(text: str, padded: bool) -> str:
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if padded else encoded.rstrip("=")


def tracker_parameters(site_id: str) -> st.SearchStrategy[dict[str, str]]:
    """One tracker-protocol event as its short parameters (``tna`` is left for the marker)."""
    return st.builds(
        lambda required, optional: {**required, **optional},
        st.fixed_dictionaries(
            {
                "e": st.one_of(st.sampled_from(["pv", "pp", "se", "ue", "tr", "ti"]), st.sampled_from(["", "xx"])),
                "aid": usually(st.just(site_id), st.one_of(st.sampled_from(["", "nobody-registered-this"]), any_text)),
            }
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "eid": event_ids,
                "url": page_urls,
                "refr": page_urls,
                "page": any_text,
                "duid": ids,
                "nuid": ids,
                "uid": ids,
                "dtm": millisecond_texts,
                "ttm": millisecond_texts,
                "stm": millisecond_texts,
                "se_ca": any_text,
                "se_ac": st.one_of(event_names, any_text),
                "se_va": any_text,
                "ue_pr": self_describing_events,
                "ue_px": st.one_of(
                    st.builds(_base64, self_describing_events, st.booleans()), st.sampled_from(["!!!", "a", "===="])
                ),
                "tr_id": any_text,
                "tr_tt": any_text,
                "ti_sk": any_text,
                "ti_pr": any_text,
                "pp_mix": any_text,
                "ua": header_text,
                "ip": st.one_of(st.sampled_from(["203.0.113.9", "2001:db8::1", "999.0.0.1", ""]), any_text),
                "p": st.sampled_from(["web", "srv", ""]),
            },
        ),
    )


def snowplow_get_probes(site_id: str) -> st.SearchStrategy[Probe]:
    return st.builds(
        lambda parameters, junk, headers: Probe(
            "GET", f"/i?{_query([('tna', MARKER), *parameters.items()], junk)}", Answer.GIF, tuple(headers)
        ),
        tracker_parameters(site_id),
        raw_query_junk,
        client_headers,
    )


def _tp2_event(parameters: dict[str, str], odd: Json | None) -> Json:
    return {"tna": MARKER, **parameters} if odd is None else odd


tp2_events = st.builds(
    _tp2_event,
    st.just({}),
    st.one_of(st.none(), st.none(), st.none(), json_values, st.just({"tna": MARKER, "e": "se", "nested": {"a": [1]}})),
)


def tp2_probes(site_id: str) -> st.SearchStrategy[Probe]:
    """``POST tp2``: a ``payload_data`` of tracker events (and some that are not), maybe from a page."""
    events = st.builds(_tp2_event, tracker_parameters(site_id), st.one_of(st.none(), st.none(), st.none(), json_values))
    return st.builds(
        _tp2_probe,
        schema=usually(
            st.just(PAYLOAD_DATA_SCHEMA), st.sampled_from(["", "iglu:com.acme/payload_data/jsonschema/1-0-4"])
        ),
        data=usually(st.lists(events, max_size=4), json_values),
        extra=seldom_extra_fields,
        origin=origins,
        content_type=content_types,
    )


def _tp2_probe(schema: str, data: Json, extra: dict[str, Json], origin: str | None, content_type: str) -> Probe:
    body = _json({"schema": schema, "data": data, **extra})
    headers: tuple[tuple[str, str], ...] = (("Content-Type", content_type),)
    if origin is not None:
        headers += (("Origin", origin),)
    items = len(data) if isinstance(data, list) else None
    return Probe("POST", TP2, Answer.JSON, headers, body, items=items, origin=origin)


# --- the browser API: POST /api/event, /api/events ------------------------------------------------------------

origins = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "https://shop.example",
            "https://shop.example:443",
            "http://sub.shop.example:8080",
            "https://evil.example",
            "null",
            "",
            "https://shop.example:99999",
            "http://[::1",
            "https://shop.example.evil.example",
        ]
    ),
    header_text,
)
browser_properties = st.builds(
    lambda properties, odd: {"fuzz": MARKER, **properties, **odd},
    st.dictionaries(property_names, st.one_of(json_scalars, repeated("v", 2040, 2100)), max_size=4),
    st.one_of(st.just({}), st.just({}), st.dictionaries(st.just("nested"), json_values, max_size=1)),
)
near_valid_browser_events = st.fixed_dictionaries(
    {
        "event_id": st.just(EVENT_ID),
        "name": usually(common_event_names, event_names),
        "properties": st.builds(
            lambda typed, other: {**typed, **other, "fuzz": MARKER},
            typed_properties,
            st.dictionaries(property_names, st.one_of(json_scalars, repeated("v", 2040, 2100)), max_size=3),
        ),
    },
    optional={
        "url": usually(http_urls, page_urls),
        "referrer": http_urls,
        "anonymous_id": short_ids,
        "user_id": short_ids,
        "timestamp": usually(plausible_milliseconds, milliseconds),
        "consent": st.sampled_from(["granted", "denied"]),
    },
)
wild_browser_events = st.fixed_dictionaries(
    {},
    optional={
        "event_id": event_ids,
        "name": event_names,
        "url": page_urls,
        "referrer": st.one_of(page_urls, st.none()),
        "anonymous_id": st.one_of(ids, st.none()),
        "user_id": st.one_of(ids, st.integers()),
        "timestamp": st.one_of(milliseconds, st.none(), st.sampled_from(["1700000000000", 1.5e12])),
        "consent": st.one_of(st.sampled_from(["granted", "denied", None, "partial"]), any_text),
        "properties": usually(browser_properties, json_values),
        "colour": st.just("red"),  # an unknown field: refused
    },
)
browser_events = usually(near_valid_browser_events, wild_browser_events)


def browser_probes(site_id: str) -> st.SearchStrategy[Probe]:
    sites = usually(
        st.just(site_id), st.one_of(st.sampled_from(["", "nobody-registered-this", "s" * 64]), st.integers())
    )
    single = st.builds(
        lambda site, sent_at, event: ("/api/event", {"site": site, "sent_at": sent_at, **event}, 1),
        sites,
        usually(st.one_of(plausible_milliseconds, st.none()), milliseconds),
        browser_events,
    )
    batch = st.builds(
        lambda site, sent_at, events, extra: (
            "/api/events",
            {"site": site, "sent_at": sent_at, "events": events, **extra},
            len(events) if isinstance(events, list) else None,
        ),
        sites,
        usually(st.one_of(plausible_milliseconds, st.none()), st.one_of(milliseconds, any_text)),
        usually(st.lists(usually(browser_events, json_values), max_size=5), json_values),
        seldom_extra_fields,
    )
    return st.builds(
        lambda request, drop_site, origin, content_type, headers: _browser_probe(
            request, drop_site, origin, content_type, headers
        ),
        st.one_of(single, batch),
        st.sampled_from([False] * 9 + [True]),
        origins,
        content_types,
        client_headers,
    )


def _browser_probe(
    request: tuple[str, dict[str, Json], int | None],
    drop_site: bool,
    origin: str | None,
    content_type: str,
    headers: list[tuple[str, str]],
) -> Probe:
    path, body, items = request
    if drop_site:
        body = {name: value for name, value in body.items() if name != "site"}
    all_headers = (("Content-Type", content_type), *headers)
    if origin is not None:
        all_headers += (("Origin", origin),)
    return Probe("POST", path, Answer.JSON, all_headers, _json(body), items=items, origin=origin)


# --- the Segment-compatible API: POST /v1/* -----------------------------------------------------------------------

segment_ids = st.one_of(ids, st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none())
segment_properties = st.dictionaries(property_names, json_values, max_size=4)
segment_context = st.fixed_dictionaries(
    {},
    optional={
        "page": st.one_of(st.fixed_dictionaries({}, optional={"url": page_urls, "referrer": page_urls}), json_values),
        "consent": st.one_of(
            st.builds(
                lambda prefs: {"categoryPreferences": prefs}, st.dictionaries(any_text, json_scalars, max_size=3)
            ),
            json_values,
        ),
        "ip": st.one_of(st.sampled_from(["203.0.113.9", "2001:db8::1", "not an ip"]), json_scalars),
        "userAgent": json_scalars,
        "traits": st.one_of(segment_properties, json_values),
    },
)
near_valid_segment_messages = st.fixed_dictionaries(
    {
        "type": st.sampled_from(SEGMENT_TYPES),
        "userId": usually(short_ids, st.integers()),
        "messageId": st.sampled_from([MESSAGE_ID, EVENT_ID]),
        "event": usually(common_event_names, event_names),
        "groupId": short_ids,
        "previousId": short_ids,
    },
    optional={
        "anonymousId": short_ids,
        "name": any_text,
        "properties": st.builds(lambda typed, other: {**typed, **other}, typed_properties, segment_properties),
        "traits": segment_properties,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "page": st.fixed_dictionaries({"url": usually(http_urls, page_urls)}, optional={"referrer": http_urls}),
                "consent": st.builds(
                    lambda prefs: {"categoryPreferences": prefs},
                    st.dictionaries(st.sampled_from(["Analytics", "Advertising", "Functional"]), st.booleans()),
                ),
                "ip": st.sampled_from(["203.0.113.9", "2001:db8::1", "not an ip"]),
                "userAgent": header_text,
            },
        ),
        "timestamp": usually(plausible_iso_times, iso_times),
        "sentAt": usually(plausible_iso_times, iso_times),
    },
)
wild_segment_messages = st.fixed_dictionaries(
    {
        "type": usually(st.sampled_from(SEGMENT_TYPES), st.sampled_from(["", "Track", "event"]), json_scalars),
        "userId": segment_ids,
    },
    optional={
        "anonymousId": segment_ids,
        "messageId": st.one_of(
            st.just(MESSAGE_ID),
            st.just(EVENT_ID),
            any_text.map(MESSAGE_ID.__add__),
            st.integers(),
            repeated("i", 201, 210),
        ),
        "event": st.one_of(event_names, json_scalars),
        "name": st.one_of(any_text, st.integers()),
        "category": any_text,
        "properties": usually(segment_properties, json_values),
        "traits": usually(segment_properties, json_values),
        "context": usually(segment_context, json_values),
        "timestamp": usually(iso_times, json_scalars),
        "sentAt": iso_times,
        "groupId": segment_ids,
        "previousId": segment_ids,
        "integrations": json_values,
    },
)
segment_messages = usually(near_valid_segment_messages, wild_segment_messages)


@dataclass(frozen=True)
class Credentials:
    """How a Segment request authenticates: mostly the site's write key, as Basic user or in the body."""

    header: str | None  # the whole Authorization header
    body_key: str | None


def credentials(write_key: str) -> st.SearchStrategy[Credentials]:
    basic = basic_auth(write_key)
    return usually(
        st.just(Credentials(basic, None)),
        st.just(Credentials(None, write_key)),
        st.sampled_from(
            [
                Credentials(None, None),
                Credentials(basic_auth("bk_not-a-real-key"), None),
                Credentials(basic_auth(write_key, "a-password"), None),
                Credentials("Bearer " + write_key, None),
                Credentials("Basic !!!not-base64", None),
                Credentials("Basic " + base64.b64encode(b"\xff\xfe:").decode(), None),
                Credentials(basic_auth(""), "bk_not-a-real-key"),
                Credentials(basic, "bk_not-a-real-key"),
            ]
        ),
    )


def basic_auth(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class Encoding:
    """The Content-Encoding header and whether the body really is gzip."""

    header: str | None
    gzip_body: bool


encodings = usually(
    st.just(Encoding(None, False)),
    st.just(Encoding("gzip", True)),
    st.sampled_from(
        [
            Encoding("x-gzip", True),
            Encoding("GZIP", True),
            Encoding("gzip", False),  # says gzip, is not
            Encoding("identity", False),
            Encoding("br", False),
            Encoding("deflate", True),
            Encoding("gzip, br", True),
        ]
    ),
)


def segment_probes(write_key: str) -> st.SearchStrategy[Probe]:
    batch = st.builds(
        lambda messages, sent_at, extra: (
            "/v1/batch",
            {"batch": messages, **({"sentAt": sent_at} if sent_at is not None else {}), **extra},
            len(messages) if isinstance(messages, list) else None,
        ),
        usually(st.lists(usually(segment_messages, json_values), max_size=6), json_values),
        usually(st.one_of(st.none(), plausible_iso_times), iso_times),
        usually(
            st.just({}), st.dictionaries(st.sampled_from(["context", "extra"]), json_values, min_size=1, max_size=1)
        ),
    )
    single = st.builds(
        lambda call, message: (f"/v1/{call}", message, 1),
        st.sampled_from(SEGMENT_TYPES),
        usually(segment_messages, json_values),
    )
    return st.builds(
        _segment_probe, st.one_of(batch, single), credentials(write_key), encodings, content_types, client_headers
    )


def _marked(message: Json, call: str | None) -> Json:
    """The message with a marker where its type keeps it: traits for identify and group, else properties."""
    if not isinstance(message, dict):
        return message
    kind = call or message.get("type")
    where = "traits" if kind in ("identify", "group") else "properties"
    kept = message.get(where, {})
    return {**message, where: {**kept, "fuzz": MARKER}} if isinstance(kept, dict) else message


def _segment_probe(
    request: tuple[str, Json, int | None],
    auth: Credentials,
    encoding: Encoding,
    content_type: str,
    headers: list[tuple[str, str]],
) -> Probe:
    path, body, items = request
    if path == "/v1/batch" and isinstance(body, dict) and isinstance(body.get("batch"), list):
        body = {**body, "batch": [_marked(message, None) for message in body["batch"]]}
    elif path != "/v1/batch":
        body = _marked(body, path.removeprefix("/v1/"))
    if auth.body_key is not None and isinstance(body, dict):
        body = {**body, "writeKey": auth.body_key}
    if path != "/v1/batch" and not isinstance(body, dict):
        items = None  # refused as a whole
    all_headers = [("Content-Type", content_type), *headers]
    if auth.header is not None:
        all_headers.append(("Authorization", auth.header))
    if encoding.header is not None:
        all_headers.append(("Content-Encoding", encoding.header))
    return Probe("POST", path, Answer.JSON, tuple(all_headers), _json(body), gzip_body=encoding.gzip_body, items=items)


# --- email links: GET /o/<token>.gif and /c/<token> --------------------------------------------------------------


@dataclass(frozen=True)
class Tampering:
    """A change to a signed token: readable in a falsifying example, unlike a lambda."""

    how: str  # flip, cut, insert, strip_signature, swap_case
    at: int
    text: str

    def __call__(self, token: str) -> str:
        position = self.at % (len(token) + 1)
        if self.how == "flip":
            replaced = self.text[:1] or "A"
            return token[:position] + replaced + token[position + 1 :]
        if self.how == "cut":
            return token[: max(position, 2)]  # "." alone would be a dot segment, not a token
        if self.how == "insert":
            return token[:position] + self.text + token[position:]
        if self.how == "strip_signature":
            return token.rpartition(".")[0]
        return token.swapcase()


token_characters = st.characters(codec="utf-8", exclude_characters="/")
tamperings = st.builds(
    Tampering,
    st.sampled_from(["flip", "cut", "insert", "strip_signature", "swap_case"]),
    st.integers(0, 400),
    st.text(token_characters, max_size=6),
)
destinations = st.builds(
    "{}://{}/{}".format,
    st.sampled_from(["https", "http"]),
    st.sampled_from(["shop.example", "other.example:8443", "127.0.0.1"]),
    st.text(st.characters(min_codepoint=0x30, max_codepoint=0x7A, exclude_characters=":;<>?@[\\]^`"), max_size=30),
)
raw_tokens = st.one_of(
    st.builds(
        lambda before, after: before + MARKER + after,
        st.text(token_characters, max_size=30),
        st.text(token_characters, max_size=30),
    ),
    st.text(token_characters, min_size=1, max_size=60),
    st.sampled_from(["eyJzIjoiYSJ9", "e30.abc", "x" * 3000, "a.b.c", "%", "..."]),
).filter(lambda token: token not in ("", ".", ".."))


def email_probes() -> st.SearchStrategy[Probe]:
    tokens = st.one_of(
        st.builds(Token, st.sampled_from(["open", "click"]), destinations),
        st.builds(Token, st.sampled_from(["open", "click"]), destinations, tamper=tamperings),
        st.builds(Token, st.sampled_from(["open", "click"]), destinations, foreign_key=st.just(True)),
        st.builds(Token, st.sampled_from(["open", "click"]), raw=raw_tokens),
    )
    return st.builds(
        lambda token, headers: Probe(
            "GET", "", Answer.GIF if token.kind == "open" else Answer.CLICK, tuple(headers), token=token
        ),
        tokens,
        client_headers,
    )


# --- hostile bodies on every JSON route ----------------------------------------------------------------------------


def _deep(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


def _nested_body(route: str, site_id: str, deep: str) -> bytes:
    """A body that is fine except for one deeply nested value, where each route keeps a free-form value."""
    if route == "/v1/batch":
        text = (
            f'{{"batch":[{{"type":"track","event":"x","userId":"u","properties":{{"fuzz":"{MARKER}","d":{deep}}}}}]}}'
        )
    elif route.startswith("/v1/"):
        kept = "traits" if route in ("/v1/identify", "/v1/group") else "properties"  # where the type keeps a marker
        ids = '"userId":"u","groupId":"g","previousId":"p"'
        text = f'{{"event":"x",{ids},"{kept}":{{"fuzz":"{MARKER}","d":{deep}}}}}'
    elif route == "/api/event":
        text = f'{{"site":"{site_id}","name":"x","properties":{{"fuzz":"{MARKER}","d":{deep}}}}}'
    elif route == "/api/events":
        text = f'{{"site":"{site_id}","events":[{{"name":"x","properties":{{"fuzz":"{MARKER}"}},"d":{deep}}}]}}'
    else:
        text = (
            f'{{"schema":"{PAYLOAD_DATA_SCHEMA}","data":[{{"e":"se","aid":"{site_id}","tna":"{MARKER}","d":{deep}}}]}}'
        )
    return text.encode()


GZIP_BOMB = gzip.compress(b"[" + b" " * 5_000_000 + b"]", compresslevel=9)


def hostile_probes(site_id: str, write_key: str) -> st.SearchStrategy[Probe]:
    """Bodies no client should send: not JSON, odd encodings, deep nesting, oversized, compression bombs."""
    nested = st.builds(
        lambda route, depth, kind: (route, _nested_body(route, site_id, _deep(depth, kind)), False),
        st.sampled_from(JSON_ROUTES),
        st.one_of(st.integers(1, 300), st.integers(240, 270), st.integers(900, 1100)),
        st.sampled_from(["list", "object"]),
    )
    oversized = st.builds(
        lambda route, size, compressed: (route, b'{"batch":[' + b'"' + b"x" * size + b'"]}', compressed),
        st.sampled_from(JSON_ROUTES),
        st.sampled_from([32 * 1024, 500 * 1024 - 12, 500 * 1024, 600_000, 1_200_000]),
        st.booleans(),
    )
    garbage = st.builds(
        lambda route, body, compressed: (route, body, compressed),
        st.sampled_from(JSON_ROUTES),
        st.one_of(
            st.binary(max_size=64),
            any_text.map(str.encode),
            st.sampled_from(
                [
                    b"",
                    b"null",
                    b"1",
                    b'"x"',
                    b"[]",
                    b"{}",
                    b'{"a":"\\ud800"}',
                    b"\xef\xbb\xbf{}",
                    b'{"batch":[]}\x00',
                    b"[" * 2000,
                    b'{"a":1,"a":2}',
                    b"1e999",
                    GZIP_BOMB[:100],
                ]
            ),
            json_values.map(_json),
        ),
        st.booleans(),
    )
    bodies = st.one_of(
        nested, oversized, garbage, st.builds(lambda route: (route, GZIP_BOMB, False), st.sampled_from(JSON_ROUTES))
    )
    return st.builds(
        _hostile_probe,
        bodies,
        st.sampled_from([None, "gzip", "br", "identity"]),
        st.booleans(),
        st.just(write_key),
    )


def _hostile_probe(
    request: tuple[str, bytes, bool], encoding: str | None, authenticated: bool, write_key: str
) -> Probe:
    route, body, compressed = request
    headers = [("Content-Type", "text/plain")]
    if body is GZIP_BOMB or compressed:
        encoding = "gzip"
    if encoding is not None:
        headers.append(("Content-Encoding", encoding))
    if authenticated or route.startswith("/v1/"):
        headers.append(("Authorization", basic_auth(write_key)))
    return Probe("POST", route, Answer.JSON, tuple(headers), body, gzip_body=compressed)


def preflight_probes() -> st.SearchStrategy[Probe]:
    """CORS preflights: answered 204 or 403, whatever the Origin says."""
    return st.builds(
        lambda route, origin: Probe(
            "OPTIONS",
            route,
            Answer.PREFLIGHT,
            (("Access-Control-Request-Method", "POST"),) + ((("Origin", origin),) if origin is not None else ()),
        ),
        st.sampled_from(["/api/event", "/api/events", TP2]),
        origins,
    )
