"""Segment webhooks through the running stack: the webhook sender started by `./beacon up` POSTs every entry and
exit of a segment to a real HTTP receiver started here, signed, retried while it answers 503, in order per
person, with one delivery id per change; a receiver that refuses (410), or that never recovers, leads to dead
letters in ClickHouse with the change and the reason."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.client import Client

from destinations.webhook_signatures import verify_signature
from runtime.definitions import DefinitionFolder
from schemas.email import EmailTokens
from schemas.segments import SegmentChange, SegmentDefinition
from schemas.traffic import TrafficSettings
from stack.email_keys import email_signing_keys
from stack.segment_admin import running_segments
from stack.settings import StackSettings
from stack.supervisor import LocalStack
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, send_traffic
from stack.webhook_keys import webhook_signing_keys
from tests.support.polling import wait_until
from tests.support.sites import register_site

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FAILURES_BEFORE_SUCCESS = 2  # per delivery id, on /flaky: the first with Retry-After


@dataclass(frozen=True)
class Received:
    path: str
    delivery_id: str
    attempt: int
    signature: str
    body: bytes
    status: int  # what the receiver answered


class Receiver:
    """A webhook receiver on a free port: /flaky answers 503 to each delivery's first attempts, then 200; /gone
    answers 410; /down always 503; /held 503 until ``opened`` is set, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.opened = threading.Event()
        self._attempts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = self.headers.get("Beacon-Delivery-Id", "")
                with receiver._lock:
                    receiver._attempts[delivery] += 1
                    seen = receiver._attempts[delivery]
                    if self.path == "/flaky":
                        status = 503 if seen <= FAILURES_BEFORE_SUCCESS else 200
                    elif self.path == "/held":
                        status = 200 if receiver.opened.is_set() else 503
                    else:
                        status = 410 if self.path == "/gone" else 503
                    receiver.received.append(
                        Received(self.path, delivery, int(self.headers.get("Beacon-Delivery-Attempt", "0")),
                                 self.headers.get("Beacon-Signature", ""), body, status)
                    )  # fmt: skip
                self.send_response(status)
                if status == 503 and seen == 1:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def snapshot(self, path: str) -> list[Received]:
        with self._lock:
            return [request for request in self.received if request.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _topic_changes(bootstrap: str, topic: str) -> list[SegmentChange]:
    async def read() -> list[SegmentChange]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=2000)
            return [SegmentChange.model_validate_json(r.value or b"") for batch in batches.values() for r in batch]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def _remove_segments(folder: DefinitionFolder, receiver: Receiver) -> None:
    """The receiver goes away: so that the session's stack sends it nothing more, its segments go too."""
    for path in folder.segments_dir.glob("webhook*.yaml"):
        path.unlink()
    receiver.close()


def _key(change: SegmentChange) -> tuple[str, int]:
    return change.person_id, change.sequence


def test_every_change_reaches_its_webhooks_signed_in_order_and_refusals_become_dead_letters(
    beacon_stack: StackSettings, clickhouse: Client
) -> None:
    receiver = Receiver()
    folder = DefinitionFolder(beacon_stack.definitions_dir)
    try:
        site = register_site(beacon_stack, prefix="webhooks")
        browsing = SegmentDefinition.model_validate({
            "segment_id": f"{site.site_id}-browsing", "site_id": site.site_id,  # (viewed a product, no cart yet)
            "rules": [{"count": {"event": "product_viewed"}}, {"count": {"event": "add_to_cart"}, "at_most": 0,
                                                               "at_least": 0}],
            "webhooks": [{"url": f"{receiver.url}/flaky"}],
        })  # fmt: skip
        refused = SegmentDefinition.model_validate({
            "segment_id": f"{site.site_id}-refused", "site_id": site.site_id,
            "rules": [{"count": {"event": "add_to_cart"}}],
            "webhooks": [{"url": f"{receiver.url}/gone"}, {"url": f"{receiver.url}/down", "give_up_after": "2s"}],
        })  # fmt: skip
        for segment in (browsing, refused):
            folder.write_segment(segment)
        worker = f"http://{beacon_stack.host}:{beacon_stack.stream_web_port}"
        wait_until(
            lambda: all((running_segments(worker) or {}).get(s.segment_id) == s.version for s in (browsing, refused)),
            what="the stream worker to run the segments",
            timeout_seconds=30,
        )
        traffic = TrafficSettings(seed=7, visitors=40, start=datetime.now(UTC) - timedelta(hours=3), hours=2)
        target = TrafficTarget(
            collector_url=beacon_stack.collector_url, site_id=site.site_id, write_key=site.write_key,
            origin="https://shop.example", email_tokens=EmailTokens(email_signing_keys(beacon_stack.home).split(",")),
        )  # fmt: skip
        assert send_traffic(plan_traffic(site.site_id, traffic), target).refused == []

        # Every change on the segment's topic is taken by /flaky, after two 503s.
        def all_delivered() -> bool:
            changes = {_key(change) for change in _topic_changes(beacon_stack.kafka_address, browsing.topic)}
            accepted = {
                _key(SegmentChange.model_validate_json(r.body)) for r in receiver.snapshot("/flaky") if r.status == 200
            }
            return bool(changes) and changes <= accepted

        wait_until(all_delivered, what="every change of the segment to reach its webhook", timeout_seconds=120)
        [secret] = webhook_signing_keys(beacon_stack.home).split(",")
        requests = receiver.snapshot("/flaky")
        by_delivery: dict[str, list[Received]] = defaultdict(list)
        for request in requests:
            assert verify_signature(secret, request.signature, request.body, tolerance=600), request
            assert not verify_signature("not-the-key", request.signature, request.body)
            by_delivery[request.delivery_id].append(request)
        changes_by_delivery = {
            delivery: {SegmentChange.model_validate_json(r.body) for r in attempts}
            for delivery, attempts in by_delivery.items()
        }
        assert all(len(changes) == 1 for changes in changes_by_delivery.values()), "one change per delivery id"
        assert len({_key(next(iter(c))) for c in changes_by_delivery.values()}) == len(changes_by_delivery)
        for attempts in by_delivery.values():
            assert [r.status for r in attempts[: FAILURES_BEFORE_SUCCESS + 1]] == [503, 503, 200]
            assert [r.attempt for r in attempts[: FAILURES_BEFORE_SUCCESS + 1]] == [1, 2, 3]

        # In order per person: a change is first sent only after the person's previous one was taken.
        accepted_at: dict[tuple[str, int], int] = {}
        first_sent_at: dict[tuple[str, int], int] = {}
        for index, request in enumerate(requests):
            key = _key(SegmentChange.model_validate_json(request.body))
            first_sent_at.setdefault(key, index)
            if request.status == 200:
                accepted_at.setdefault(key, index)
        for (person, sequence), index in first_sent_at.items():
            if sequence > 1 and (person, sequence - 1) in accepted_at:
                assert accepted_at[(person, sequence - 1)] < index, f"{person}: change {sequence} sent too early"
        assert any(sequence > 1 for _, sequence in first_sent_at), "some person entered and left"

        # The refusing receivers: each change of the other segment is a dead letter per destination.
        refused_changes = _topic_changes(beacon_stack.kafka_address, refused.topic)
        assert refused_changes
        expected = {(reason, _key(change)) for change in refused_changes for reason in
                    ("webhook_rejected", "webhook_retries_exhausted")}  # fmt: skip
        letters = (
            "SELECT reason, detail, payload FROM beacon.dead_letters FINAL"
            " WHERE stage = 'segment_webhooks' AND site_id = {s:String}"
        )

        def dead_letters() -> list[tuple[str, str, str]]:
            return [tuple(row) for row in clickhouse.query(letters, parameters={"s": site.site_id}).result_rows]

        def all_dead_lettered() -> bool:
            stored = {(reason, _key(SegmentChange.model_validate_json(body))) for reason, _, body in dead_letters()}
            return expected <= stored

        wait_until(all_dead_lettered, what="the refused changes in beacon.dead_letters", timeout_seconds=60)
        for reason, detail, _ in dead_letters():
            if reason == "webhook_rejected":
                assert detail.startswith(f"{receiver.url}/gone: HTTP 410"), detail
                assert "(after 1 attempt)" in detail
            else:
                assert detail.startswith(f"{receiver.url}/down: HTTP 503"), detail
        assert all(r.attempt == 1 for r in receiver.snapshot("/gone")), "a 410 is not retried"
    finally:
        _remove_segments(folder, receiver)


def test_a_crashed_sender_delivers_again_under_the_same_delivery_ids(beacon_stack: StackSettings) -> None:
    receiver = Receiver()
    stack = LocalStack(beacon_stack, workdir=ROOT)
    folder = DefinitionFolder(beacon_stack.definitions_dir)
    try:
        site = register_site(beacon_stack, prefix="webhook-crash")
        viewers = SegmentDefinition.model_validate({
            "segment_id": f"{site.site_id}-viewers", "site_id": site.site_id,
            "rules": [{"count": {"event": "product_viewed"}}], "webhooks": [{"url": f"{receiver.url}/held"}],
        })  # fmt: skip
        folder.write_segment(viewers)
        worker = f"http://{beacon_stack.host}:{beacon_stack.stream_web_port}"
        wait_until(
            lambda: (running_segments(worker) or {}).get(viewers.segment_id) == viewers.version,
            what="the stream worker to run the segment",
            timeout_seconds=30,
        )
        traffic = TrafficSettings(seed=11, visitors=15, start=datetime.now(UTC) - timedelta(hours=2), hours=1)
        target = TrafficTarget(
            collector_url=beacon_stack.collector_url, site_id=site.site_id, write_key=site.write_key,
            origin="https://shop.example", email_tokens=EmailTokens(email_signing_keys(beacon_stack.home).split(",")),
        )  # fmt: skip
        assert send_traffic(plan_traffic(site.site_id, traffic), target).refused == []
        wait_until(lambda: len(receiver.snapshot("/held")) >= 3, what="deliveries being retried", timeout_seconds=60)

        stack.kill_part("webhooks")  # SIGKILL while every delivery is still being retried: nothing committed
        before = {request.delivery_id for request in receiver.snapshot("/held")}
        stack.start_part("webhooks")
        receiver.opened.set()

        def all_taken() -> bool:
            changes = {_key(change) for change in _topic_changes(beacon_stack.kafka_address, viewers.topic)}
            taken = {
                _key(SegmentChange.model_validate_json(r.body)) for r in receiver.snapshot("/held") if r.status == 200
            }
            return bool(changes) and changes <= taken

        wait_until(all_taken, what="every change to be taken after the restart", timeout_seconds=60)
        taken_ids = {request.delivery_id for request in receiver.snapshot("/held") if request.status == 200}
        assert before <= taken_ids, "what was being sent before the crash is sent again, under the same ids"
        first_attempts = defaultdict(int)
        for request in receiver.snapshot("/held"):
            first_attempts[request.delivery_id] += request.attempt == 1
        assert any(first_attempts[delivery] >= 2 for delivery in before), "re-sent from the first attempt"
    finally:
        _remove_segments(folder, receiver)
