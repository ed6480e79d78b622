"""Schemathesis over the collector's own OpenAPI document, against the running collector.

Every documented operation gets positive cases (what the document allows) and negative ones (what it does
not), mostly with the real write key and site id so they get past authentication and site admission. Each
answer must conform to the document (status, content type, headers, schema) and keep the collector's promise
(tests/fuzz/harness.py): no 5xx, pixels answer their GIF, a refusal names its dead letters, nothing is lost.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from stack.settings import StackSettings
from tests.fuzz.harness import Answer, Collector, Ledger, Probe, Sent, check_answer, fuzz_settings, new_marker
from tests.fuzz.strategies import basic_auth

pytestmark = pytest.mark.fuzz

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEGMENT = tuple(f"POST /v1/{call}" for call in ("batch", "track", "page", "screen", "identify", "group", "alias"))
# Every operation of the document, with the examples (each a few cases) per generation mode.
OPERATIONS = {
    **dict.fromkeys(SEGMENT, 8),
    "POST /api/event": 8,
    "POST /api/events": 8,
    "POST /com.snowplowanalytics.snowplow/tp2": 8,
    "GET /p.gif": 10,
    "GET /i": 10,
    "GET /o/{token}.gif": 10,
    "GET /c/{token}": 10,
    "GET /healthz": 1,
    "GET /readyz": 1,
    "GET /metrics": 1,
}
# Negative cases need something to make invalid: a body or a query. Path parameters are strings whatever
# is generated, and the operational routes take nothing.
WITHOUT_NEGATIVE_CASES = {"GET /o/{token}.gif", "GET /c/{token}", "GET /healthz", "GET /readyz", "GET /metrics"}
ANSWERS = {
    "GET /p.gif": Answer.GIF,
    "GET /i": Answer.GIF,
    "GET /o/{token}.gif": Answer.GIF,
    "GET /c/{token}": Answer.CLICK,
}
OPERATIONAL = {"GET /healthz", "GET /readyz", "GET /metrics"}


@pytest.fixture(scope="session")
def collector_schema(beacon_stack: StackSettings) -> OpenApiSchema:
    """The document as the running collector serves it."""
    return schemathesis.openapi.from_url(f"{beacon_stack.collector_url}/openapi.json")


def test_every_documented_operation_is_fuzzed(collector_schema: OpenApiSchema) -> None:
    documented = {result.ok().label for result in collector_schema.get_all_operations() if isinstance(result, Ok)}
    assert documented == set(OPERATIONS)


@dataclass(frozen=True)
class Aim:
    """How a generated case is pointed at the real site: ``real`` uses its write key and id, else as generated
    (Segment calls then go without a key, or with a wrong one)."""

    real: bool
    wrong_key: bool


aims = st.one_of(*[st.just(Aim(True, False))] * 6, st.just(Aim(False, False)), st.just(Aim(False, True)))
_sessions = threading.local()


def _session() -> requests.Session:
    """One requests session per sending thread (schemathesis' transport is requests)."""
    session: requests.Session | None = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


@pytest.mark.parametrize("label", list(OPERATIONS))
def test_operation_answers_as_documented_and_keeps_every_input(
    label: str, collector_schema: OpenApiSchema, fuzz_target: Collector, ledger: Ledger
) -> None:
    operation = collector_schema.find_operation_by_label(label)
    assert operation is not None
    modes = [GenerationMode.POSITIVE]
    if label not in WITHOUT_NEGATIVE_CASES:
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:
        cases = st.tuples(operation.as_strategy(generation_mode=mode), aims)

        @fuzz_settings(OPERATIONS[label])
        @given(st.lists(cases, min_size=1, max_size=16))
        def send(batch: list[tuple[Case[Any], Aim]]) -> None:
            outcomes = list(fuzz_target.pool.map(lambda aimed: _call(fuzz_target, label, *aimed), batch))
            ledger.count(len(outcomes))
            for case, sent, response in outcomes:
                case.validate_response(response, checks=CHECKS)
                if label not in OPERATIONAL:
                    check_answer(sent, SchemathesisAnswer(response), ledger)

        send()


class SchemathesisAnswer:
    """A schemathesis response as the harness's checks read it (one value per header, lower-case names)."""

    def __init__(self, response: schemathesis.Response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self.text = response.content.decode(errors="replace")
        self.headers = {name.lower(): values[-1] for name, values in response.headers.items()}


def _call(target: Collector, label: str, case: Case[Any], aim: Aim) -> tuple[Case[Any], Sent, schemathesis.Response]:
    """Aim the case, send it with a marker where the route keeps one, and describe what was sent."""
    markers: list[str] = []
    params: dict[str, str] = {}
    items: int | None = None
    if label.startswith("POST /v1/"):
        if aim.real:
            case.headers["Authorization"] = basic_auth(target.write_key)
        elif aim.wrong_key:
            case.headers["Authorization"] = basic_auth("bk_not-a-real-key")
        else:
            case.headers.pop("Authorization", None)
    if isinstance(case.body, dict):
        items = _aim_body(label, case.body, target.site_id if aim.real else None)
    if label in ("GET /p.gif", "GET /i"):
        markers.append(new_marker())
        params["p.fuzz" if label == "GET /p.gif" else "tna"] = markers[-1]
        if aim.real and isinstance(case.query, dict):
            case.query["site" if label == "GET /p.gif" else "aid"] = target.site_id
        if isinstance(case.query, dict) and _is_uuid(case.query.get("eid")):
            case.query["eid"] = str(uuid.uuid4())  # an event id used twice would count once: keep each hit apart
    response = case.call(
        base_url=target.url,
        session=_session(),
        headers={"X-Forwarded-For": target.forwarded_for()},
        params=params,
        timeout=30,
        allow_redirects=False,
    )
    token = unquote(str(case.path_parameters["token"])) if case.path_parameters else None
    probe = Probe(case.method, case.formatted_path, ANSWERS.get(label, Answer.JSON), items=items)
    sent = Sent(
        probe, case.formatted_path, {}, None, tuple(markers), token=token,
        description=case.as_curl_command(headers={"X-Forwarded-For": "…"}),
    )  # fmt: skip
    return case, sent, response


def _aim_body(label: str, body: dict[str, Any], site_id: str | None) -> int | None:
    """Name the real site in a browser or tracker body; the number of messages it holds, if it is a list."""
    if label in ("POST /api/event", "POST /api/events") and site_id is not None:
        body["site"] = site_id
    if label == "POST /com.snowplowanalytics.snowplow/tp2" and isinstance(body.get("data"), list):
        for event in body["data"]:
            if isinstance(event, dict) and site_id is not None:
                event["aid"] = site_id
        return len(body["data"])
    if label == "POST /api/events":
        return len(body["events"]) if isinstance(body.get("events"), list) else None
    if label == "POST /v1/batch":
        return len(body["batch"]) if isinstance(body.get("batch"), list) else None
    return 1


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None
