"""The pixel's hand-written fast paths agree with the standard tools they replace."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote_plus
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from collector.raw_hits import client_context_of, parse_query, raw_hit_from_query
from schemas.events import HitSource, RawHit

_QUERY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(st.lists(st.tuples(_QUERY_TEXT, _QUERY_TEXT), max_size=8), st.booleans())
def test_parse_query_equals_parse_qsl(pairs: list[tuple[str, str]], escaped: bool) -> None:
    if escaped:
        query = "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in pairs)
    else:  # raw text, with whatever '&', '=', '%' and '+' it happens to hold
        query = "&".join(f"{name}={value}" for name, value in pairs)
    assert parse_query(query) == dict(parse_qsl(query, keep_blank_values=True))


def test_the_client_context_is_read_from_the_raw_headers() -> None:
    scope = {
        "client": ("203.0.113.9", 5555),
        "headers": [(b"user-agent", b"UA/1"), (b"dnt", b"1"), (b"accept-language", b"de-CH," + b"x" * 500),
                    (b"referer", b"https://a.example/")],
    }  # fmt: skip
    context = client_context_of(scope)
    assert (context.ip, context.user_agent, context.referer, context.do_not_track) == (
        "203.0.113.9", "UA/1", "https://a.example/", True,
    )  # fmt: skip
    assert (len(context.accept_language), context.global_privacy_control) == (200, False)


def test_the_fast_record_is_the_same_raw_hit() -> None:
    pixel = raw_hit_from_query(
        hit_id=uuid4(), source=HitSource.PIXEL, received_at=datetime.now(UTC),
        query={"site": "s", "url": "https://a.example/"}, client=client_context_of({"headers": [], "client": None}),
    )  # fmt: skip
    now = datetime.now(UTC)
    segment = RawHit(hit_id=uuid4(), source=HitSource.SEGMENT, received_at=now, site_id="s",
                     body='{"type": "track"}', sent_at=now, ip="::1", user_agent="", referer="")  # fmt: skip
    for hit in (pixel, segment):
        assert RawHit.model_validate_json(hit.to_json()) == RawHit.model_validate_json(hit.model_dump_json())
