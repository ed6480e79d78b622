"""The requests the fuzz suite found that broke the running stack, sent again as they were, every run.

Before their fixes each was a 500 without a dead letter, or a hit the normalize agent crashed on and lost.
Each must now be refused with its reason and kept (tests/fuzz/conftest.py looks the markers and dead letters
up at the end of the session). tests/unit/test_fuzz_findings.py has the same inputs at the function level.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.fuzz.harness import EVENT_ID, MARKER, Answer, Collector, Ledger, Probe, check_answer
from tests.fuzz.strategies import TP2, basic_auth

pytestmark = pytest.mark.fuzz

DEEP = "[" * 300 + "]" * 300


def _segment(path: str, body: str) -> Probe:
    return Probe("POST", path, Answer.JSON, (("Content-Type", "application/json"),), body.encode(), items=1)


def _browser(body: str, origin: str) -> Probe:
    headers = (("Content-Type", "text/plain"), ("Origin", origin))
    return Probe("POST", "/api/event", Answer.JSON, headers, body.encode(), items=1, origin=origin)


FOUND = [
    pytest.param(
        _segment("/v1/track", f'{{"event":"x","userId":"u","properties":{{"fuzz":"{MARKER}","d":{DEEP}}}}}'),
        400, "invalid_json", id="json-nested-deeper-than-orjson-writes",
    ),
    pytest.param(
        _segment("/v1/track", f'{{"event":"x","userId":"u","properties":{{"fuzz":"{MARKER}"}},'
                              '"timestamp":"9999-12-31T23:59:59-10:00"}'),
        400, "invalid_timestamp", id="segment-timestamp-after-9999-in-utc",
    ),
    pytest.param(
        _segment("/v1/track", f'{{"event":"x","userId":"u","properties":{{"fuzz":"{MARKER}"}},'
                              '"timestamp":"2001-01-01T00:00:00Z","sentAt":"9999-12-31T00:00:00Z"}'),
        400, "invalid_timestamp", id="segment-age-of-8000-years",
    ),
    pytest.param(
        _segment("/v1/page", f'{{"userId":"u","properties":{{"fuzz":"{MARKER}"}},'
                             '"context":{"page":{"url":"http://[::1"}}}'),
        400, "invalid_url", id="segment-url-urlsplit-refuses",
    ),
    pytest.param(
        _browser(f'{{"site":"SITE","name":"x","timestamp":978307200000,"sent_at":99999999999999,'
                 f'"event_id":"{EVENT_ID}","properties":{{"fuzz":"{MARKER}"}}}}', "https://shop.example"),
        400, "invalid_timestamp", id="browser-age-of-3000-years",
    ),
    pytest.param(
        _browser('{"site":"SITE","name":"x"}', "https://shop.example:99999"), 403, "origin_not_allowed",
        id="browser-origin-port-out-of-range",
    ),
    pytest.param(_browser('{"site":"SITE","name":"x"}', "http://[::1"), 403, "origin_not_allowed",
                 id="browser-origin-broken-ipv6"),
    pytest.param(
        Probe("POST", TP2, Answer.JSON, (("Origin", "https://shop.example:99999"),),
              b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",'
              b'"data":[{"e":"se","aid":"SITE","tna":"' + MARKER.encode() + b'"}]}', items=1),
        400, "origin_not_allowed", id="tp2-origin-port-out-of-range",
    ),
    pytest.param(
        Probe("OPTIONS", "/api/events", Answer.PREFLIGHT, (("Origin", "http://[::1"),)), 403, None,
        id="preflight-origin-broken-ipv6",
    ),
    pytest.param(
        Probe("GET", f"/p.gif?p.fuzz={MARKER}&site=SITE&url=https://shop.example/&ts=978307200000&st=253402300799000",
              Answer.GIF), 200, None, id="pixel-age-of-8000-years-crashed-the-normalize-agent",
    ),
    pytest.param(
        Probe("GET", f"/p.gif?p.fuzz={MARKER}&site=SITE&url=http://%5B::1", Answer.GIF), 200, None,
        id="pixel-url-urlsplit-refuses-crashed-the-normalize-agent",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("probe", "status", "reason"), FOUND)
def test_what_the_fuzz_found_is_refused_and_kept(
    probe: Probe, status: int, reason: str | None, fuzz_target: Collector, ledger: Ledger
) -> None:
    aimed = _aimed(probe, fuzz_target)
    sent = fuzz_target.prepare(aimed)
    response = fuzz_target.client.request(
        sent.probe.method, fuzz_target.url + sent.url_path, headers=sent.headers, content=sent.content
    )
    ledger.count()
    assert response.status_code == status, response.text
    check_answer(sent, response, ledger)
    if reason is not None:
        answer = response.json()
        assert reason in {answer.get("code"), *(error["reason"] for error in answer.get("errors", []))}, answer


def _aimed(probe: Probe, target: Collector) -> Probe:
    """The probe for the real site (and its write key on the Segment API)."""
    body = None if probe.body is None else probe.body.replace(b"SITE", target.site_id.encode())
    headers = probe.headers
    if probe.path.startswith("/v1/"):
        headers = (*headers, ("Authorization", basic_auth(target.write_key)))
    return replace(probe, path=probe.path.replace("SITE", target.site_id), headers=headers, body=body)
