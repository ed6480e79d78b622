"""Send generated requests to the running collector, check each answer, and keep a ledger of what must be stored.

The collector's promise is that nothing is lost: a JSON API accepts a message or names the dead letter that keeps
it, a pixel answers its GIF and the hit becomes an event or a dead letter. Every request gets unique markers (and
unique event ids) when it is sent, not when it is generated, so a replayed or shrunk example never hides a lost
copy behind an earlier one; the ledger then looks every marker and every dead-letter id up in ClickHouse.
"""

from __future__ import annotations

import gzip
import itertools
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import hypothesis
import orjson
from clickhouse_connect.driver.client import Client

from collector.pixel import TRANSPARENT_GIF
from schemas.email import EmailClickTarget, EmailRecipientMessage, EmailTokens
from tests.support.polling import wait_until

MARKER = "FUZZMARK"  # replaced by a fresh marker per occurrence when sent
EVENT_ID = "FUZZEVENTID"  # replaced by a fresh UUID per occurrence when sent
MESSAGE_ID = "FUZZMESSAGEID"  # replaced by a fresh non-UUID string (Segment maps it to a UUID per site)
_PLACEHOLDERS = re.compile(f"{MARKER}|{EVENT_ID}|{MESSAGE_ID}")
_FOUND_MARKERS = r"fz[0-9a-f]{16}"
INVALID_LINK = b"This link is not valid."
MAX_REPORTED = 15


class Answer(Enum):
    """What kind of answer a route owes: the JSON APIs' answers, the pixels' GIF, or a click's redirect."""

    JSON = "json"
    GIF = "gif"
    CLICK = "click"
    PREFLIGHT = "preflight"


@dataclass(frozen=True)
class Token:
    """An email token made when sent: signed for a recipient carrying a marker, then maybe tampered with."""

    kind: str  # "open" or "click"
    destination: str = "https://shop.example/"
    tamper: Callable[[str], str] | None = None
    raw: str | None = None  # a token not made by us at all (may contain MARKER)
    foreign_key: bool = False  # signed by a key the collector does not have


@dataclass(frozen=True)
class Probe:
    """One generated request, with placeholders; ``items`` is the message count of a JSON list body, if known."""

    method: str
    path: str  # percent-encoded path and query, may hold placeholders
    answer: Answer
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # before compression, may hold placeholders
    gzip_body: bool = False
    items: int | None = None
    token: Token | None = None
    origin: str | None = None  # the Origin header, for the CORS check of an accepted browser request

    def describe(self) -> str:
        body = b"" if self.body is None else self.body[:400]
        size = 0 if self.body is None else len(self.body)
        return (
            f"{self.method} {self.path[:300]} headers={dict(self.headers)!r} gzip={self.gzip_body} "
            f"body({size} bytes)={body!r} token={self.token!r}"
        )


@dataclass(frozen=True)
class Sent:
    """A probe as it went out: the markers it carried and, for an email link, the token."""

    probe: Probe
    url_path: str
    headers: dict[str, str]
    content: bytes | None
    markers: tuple[str, ...]
    token: str | None = None
    recipient_marker: str | None = None
    signed_destination: str | None = None
    description: str | None = None  # how to repeat it, when the probe does not say (schemathesis: curl)

    def describe(self) -> str:
        about = self.description or self.probe.describe()
        return f"{about} | sent markers={self.markers} token={self.token!r}"


class Answered(Protocol):
    """What the checks read of an answer: httpx's and requests' responses both have it."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass
class Ledger:
    """What one test sent that must turn up in ClickHouse, and how many cases it ran."""

    test: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    cases: int = 0
    dead_letter_ids: dict[str, str] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    email_links: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # token -> (recipient, about)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, cases: int = 1) -> None:
        with self._lock:
            self.cases += cases

    def expect_dead_letter(self, dead_letter_id: str, about: str) -> None:
        with self._lock:
            self.dead_letter_ids.setdefault(dead_letter_id, about)

    def expect_markers(self, markers: Iterable[str], about: str) -> None:
        with self._lock:
            for marker in markers:
                self.markers[marker] = about

    def expect_email_link(self, token: str, recipient: str | None, about: str) -> None:
        with self._lock:
            self.email_links[token] = (recipient, about)


def assert_nothing_lost(ledgers: Sequence[Ledger], site_id: str, clickhouse: Client, timeout_seconds: float) -> None:
    """Every dead-letter id named in an answer is in ``beacon.dead_letters`` with a reason, every marker sent is
    in ``beacon.events`` or in a dead letter's payload, every email token is a dead letter or its recipient's
    event. One wait for all the tests: the last inputs take a second or two to reach ClickHouse."""
    since = (min(ledger.started_at for ledger in ledgers) - timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S")
    pending_ids = {
        key: f"{ledger.test}: {about}" for ledger in ledgers for key, about in ledger.dead_letter_ids.items()
    }
    pending_markers = {key: f"{ledger.test}: {about}" for ledger in ledgers for key, about in ledger.markers.items()}
    pending_links = {
        token: (recipient, f"{ledger.test}: {about}")
        for ledger in ledgers
        for token, (recipient, about) in ledger.email_links.items()
    }

    def column(sql: str, **parameters: str) -> set[str]:
        rows = clickhouse.query(sql, parameters={"since": since, "site": site_id, **parameters}).result_rows
        return {str(row[0]) for row in rows}

    def settle() -> bool:
        if pending_ids:
            found = column(
                "SELECT DISTINCT toString(dead_letter_id) FROM beacon.dead_letters"
                " WHERE received_at >= {since:DateTime('UTC')} AND reason != ''"
            )
            for dead_letter_id in found & pending_ids.keys():
                del pending_ids[dead_letter_id]
        if pending_markers:
            found = column(
                "SELECT DISTINCT arrayJoin([properties['fuzz'], properties['tracker_namespace']]) FROM beacon.events"
                " WHERE site_id = {site:String} AND received_at >= {since:DateTime('UTC')}"
            ) | column(
                "SELECT DISTINCT arrayJoin(extractAll(payload, {pattern:String})) FROM beacon.dead_letters"
                " WHERE received_at >= {since:DateTime('UTC')} AND reason != ''",
                pattern=_FOUND_MARKERS,
            )
            for marker in found & pending_markers.keys():
                del pending_markers[marker]
        if pending_links:
            refused = column(
                "SELECT DISTINCT payload FROM beacon.dead_letters WHERE reason = 'invalid_signature'"
                " AND received_at >= {since:DateTime('UTC')}"
            )
            recorded = column(
                "SELECT DISTINCT user_id FROM beacon.events WHERE site_id = {site:String} AND source = 'email'"
                " AND received_at >= {since:DateTime('UTC')}"
            )
            for token, (recipient, _) in list(pending_links.items()):
                if token in refused or recipient in recorded:
                    del pending_links[token]
        return not (pending_ids or pending_markers or pending_links)

    try:
        wait_until(settle, what="every refused or sent input in ClickHouse", timeout_seconds=timeout_seconds)
    except AssertionError:
        lost = [f"dead letter {key} of {about}" for key, about in pending_ids.items()]
        lost += [f"marker {key} of {about}" for key, about in pending_markers.items()]
        lost += [f"email token {key!r} of {about}" for key, (_, about) in pending_links.items()]
        raise AssertionError(
            f"{len(lost)} inputs neither in beacon.events nor in beacon.dead_letters after {timeout_seconds:.0f} s,"
            " e.g.\n" + "\n".join(lost[:MAX_REPORTED])
        ) from None


def log_sizes(log_dir: Path) -> dict[Path, int]:
    """Where each of the stack's logs ends now, so that only what is logged after is read."""
    return {path: path.stat().st_size for path in log_dir.glob("*.log")}


def errors_logged_since(sizes: Mapping[Path, int], log_dir: Path) -> list[str]:
    """Errors the stack's processes logged after ``sizes`` was taken: an exception a route swallowed (the
    pixel answers its GIF whatever happens) or a crashed stream agent shows up here first."""
    errors = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open("rb") as log:
            log.seek(sizes.get(path, 0))
            for line in log.read().decode(errors="replace").splitlines():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if "Traceback" in line or "ERROR" in line or "Crashed" in line:
                        errors.append(f"{path.name}: {line[:2000]}")
                    continue
                if isinstance(record, dict) and (record.get("level") in ("error", "critical") or "exception" in record):
                    errors.append(f"{path.name}: {record.get('event')!r} {str(record.get('exception', ''))[-2000:]}")
    return errors


def new_marker() -> str:
    """A value unique to one request, found again in an event's properties or a dead letter's payload."""
    return f"fz{uuid.uuid4().hex[:16]}"


class ForwardedFor:
    """A distinct client address per request (198.18.0.0/15, for benchmarks), so per-IP limits do not bite."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            number = next(self._next) % (1 << 17)
        return f"198.{18 + (number >> 16)}.{(number >> 8) & 0xFF}.{number & 0xFF}"


@dataclass
class Collector:
    """The running collector, with what the fuzz tests need to address it: a site, its key, email signing."""

    url: str
    site_id: str
    write_key: str
    email_tokens: EmailTokens
    client: httpx.Client
    pool: ThreadPoolExecutor
    forwarded_for: ForwardedFor = field(default_factory=ForwardedFor)

    def send_all(self, probes: Sequence[Probe], ledger: Ledger) -> None:
        """Send the probes concurrently (the JSON APIs wait for the broker's ack), then check every answer."""
        outcomes = list(self.pool.map(self._send, probes))
        ledger.count(len(outcomes))
        for sent, response in outcomes:
            check_answer(sent, response, ledger)

    def _send(self, probe: Probe) -> tuple[Sent, httpx.Response]:
        sent = self.prepare(probe)
        request = self.client.build_request(
            sent.probe.method, self.url + sent.url_path, headers=sent.headers, content=sent.content
        )
        try:
            return sent, self.client.send(request)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            # After an unhandled error uvicorn closes a connection httpx still pools: one retry on a fresh one.
            return sent, self.client.send(request)

    def prepare(self, probe: Probe) -> Sent:
        """Fill the placeholders with fresh values, sign or forge the email token, compress the body."""
        markers: list[str] = []

        def fresh(match: re.Match[str]) -> str:
            if match.group() == MARKER:
                markers.append(new_marker())
                return markers[-1]
            if match.group() == EVENT_ID:
                return str(uuid.uuid4())
            return f"message-{uuid.uuid4().hex}"

        path = _PLACEHOLDERS.sub(fresh, probe.path)
        content = None
        if probe.body is not None:
            content = _PLACEHOLDERS.sub(fresh, probe.body.decode("latin-1")).encode("latin-1")
            if probe.gzip_body:
                content = gzip.compress(content, compresslevel=1)
        headers = {name: _PLACEHOLDERS.sub(fresh, value) for name, value in probe.headers}
        headers.setdefault("X-Forwarded-For", self.forwarded_for())
        if probe.token is None:
            return Sent(probe, path, headers, content, tuple(markers))
        token, recipient, destination = self._token(probe.token, fresh)
        route = f"/o/{quote(token, safe='')}.gif" if probe.token.kind == "open" else f"/c/{quote(token, safe='')}"
        return Sent(probe, route, headers, content, tuple(markers), token, recipient, destination)

    def _token(self, recipe: Token, fresh: Callable[[re.Match[str]], str]) -> tuple[str, str | None, str | None]:
        if recipe.raw is not None:
            return _PLACEHOLDERS.sub(fresh, recipe.raw), None, None
        recipient = new_marker()
        message = EmailRecipientMessage(
            site_id=self.site_id, campaign_id="fuzz", message_id=uuid.uuid4().hex, recipient_id=recipient
        )
        tokens = EmailTokens(["a-key-the-collector-does-not-have"]) if recipe.foreign_key else self.email_tokens
        if recipe.kind == "open":
            token = tokens.open_token(message)
        else:
            token = tokens.click_token(EmailClickTarget(**message.model_dump(), url=recipe.destination))
        if recipe.tamper is not None:
            token = recipe.tamper(token)
        trusted = recipe.tamper is None and not recipe.foreign_key
        return token, recipient, recipe.destination if trusted else None


def check_answer(sent: Sent, response: Answered, ledger: Ledger) -> None:
    """The route's promise for this answer; the dead letters and markers it implies go into the ledger."""
    about = sent.describe()
    status = response.status_code
    assert status < 500, f"{status} {response.text[:500]!r} for {about}"
    if sent.probe.answer is Answer.GIF:
        assert status == 200, f"a pixel answered {status} for {about}"
        assert response.content == TRANSPARENT_GIF, f"not the GIF for {about}"
        assert response.headers["content-type"] == "image/gif", about
        assert "no-store" in response.headers["cache-control"], about
    elif sent.probe.answer is Answer.CLICK:
        _check_click(sent, response, about)
    elif sent.probe.answer is Answer.PREFLIGHT:
        assert status in (204, 403), f"a preflight answered {status} for {about}"
        return
    else:
        dead_letters, whole_request = json_answer_dead_letters(response, sent.probe.items, about)
        for dead_letter_id in dead_letters:
            ledger.expect_dead_letter(dead_letter_id, about)
        if status == 200 and sent.probe.origin is not None:
            allowed = response.headers.get("access-control-allow-origin")
            assert allowed == sent.probe.origin, f"CORS answer names {allowed!r} for {about}"
        if whole_request:
            return  # its dead letter keeps the body as received (maybe compressed): found by its id alone
    ledger.expect_markers(sent.markers, about)
    if sent.token is not None:
        ledger.expect_email_link(sent.token, sent.recipient_marker, about)


def _check_click(sent: Sent, response: Answered, about: str) -> None:
    if response.status_code == 302:
        # Only a token we signed ourselves may redirect, and only to where it was signed for: no open redirect.
        recipe = sent.probe.token
        assert recipe is not None, about
        assert recipe.raw is None, f"a link we did not sign redirected: {about}"
        assert not recipe.foreign_key, f"a link signed with another key redirected: {about}"
        destination = recipe.destination
        assert response.headers["location"] == destination, f"redirected to {response.headers['location']}: {about}"
        return
    assert sent.signed_destination is None, f"a link we signed answered {response.status_code}: {about}"
    assert response.status_code == 400, f"{response.status_code} for {about}"
    assert response.content == INVALID_LINK, about
    assert "location" not in response.headers, f"a refused link carries a Location: {about}"


def json_answer_dead_letters(response: Answered, items: int | None, about: str) -> tuple[list[str], bool]:
    """The dead letters a JSON API's answer names, and whether it refused the request as a whole; fails when
    the answer is not one the API documents."""
    try:
        answer: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise AssertionError(
            f"{response.status_code} answer is not JSON: {response.text[:300]!r} for {about}"
        ) from None
    assert response.headers.get("content-type", "").startswith("application/json"), about
    if response.status_code == 200:
        assert answer == {"success": True}, f"200 answered {answer!r} for {about}"
        return [], False
    assert 400 <= response.status_code < 500, f"{response.status_code} for {about}"
    assert isinstance(answer, dict), about
    assert answer.get("success") is False, f"{answer!r} for {about}"
    assert answer.get("code"), f"refusal without a code: {answer!r} for {about}"
    errors = answer.get("errors")
    if errors is None:
        assert answer.get("deadLetterId"), f"{response.status_code} refusal names no dead letter: {answer!r}, {about}"
        return [str(uuid.UUID(answer["deadLetterId"]))], True
    assert isinstance(errors, list), about
    assert errors, about
    assert all(error.get("deadLetterId") and error.get("reason") for error in errors), f"{answer!r} for {about}"
    accepted = answer.get("accepted")
    assert isinstance(accepted, int), about
    assert accepted >= 0, about
    if items is not None:
        assert accepted + len(errors) == items, f"{accepted} accepted + {len(errors)} refused != {items}: {about}"
    return [str(uuid.UUID(error["deadLetterId"])) for error in errors], False


def with_origin(probe: Probe, origin: str | None) -> Probe:
    if origin is None:
        return probe
    return replace(probe, headers=(*probe.headers, ("Origin", origin)), origin=origin)


def fuzz_settings(examples: int) -> hypothesis.settings:
    """Every fuzz test's hypothesis settings: reproducible (derandomized, no example database), no deadline
    (each example waits for the broker), and no health checks (the strategies are large on purpose)."""
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink),
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
