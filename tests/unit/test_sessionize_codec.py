"""The visitor state's changelog encoding: a round trip keeps everything, foreign bytes are refused, and a
realistic session stays small. Run as a module to print the figures:
``python -m tests.unit.test_sessionize_codec``."""

from __future__ import annotations

import time
from uuid import UUID

import orjson
import pytest

from schemas.sessions import SessionEvent, SessionRules
from stream_processors.sessionize import VisitorSessions, apply_event, evict, flag_visitor_as_bot, from_bytes, to_bytes
from tests.unit.test_sessionize_harness import BASE_MS, event

VISITOR = "0b9f1c7e-3a0d-4d55-9b1e-6f3c2a8d7e10"
NAMES = ("page_view", "page_ping", "page_ping", "page_view", "page_ping", "click", "page_view", "page_ping")


def realistic_session(start_ms: int, size: int = 10, first_id: int = 0) -> list[SessionEvent]:
    """A paid-search landing on a phone, then page views, pings every 20 s, a click; identified at the end."""
    events = []
    for index in range(size):
        name = "identify" if index == size - 2 else NAMES[index % len(NAMES)]
        landing = index == 0
        events.append(
            SessionEvent(
                event_id=str(UUID(int=(first_id + index) * 7919 + 2**126)),
                site_id="shop.example",
                visitor_id=VISITOR,
                event_time_ms=start_ms + index * 20_000,
                received_at_ms=start_ms + index * 20_000 + 150,
                event_name=name,
                url=f"https://shop.example/products/item-{index}?ref=home" if name == "page_view" else "",
                referrer="https://www.google.com/" if landing else "https://shop.example/products/item-0?ref=home",
                channel="paid_search" if landing else "internal",
                utm_source="google" if landing else "",
                utm_medium="cpc" if landing else "",
                utm_campaign="spring-sale" if landing else "",
                utm_term="running shoes" if landing else "",
                utm_content="ad-42" if landing else "",
                device_type="mobile",
                browser="Mobile Safari",
                os="iOS",
                country="CH",
                region="ZH",
                city="Zurich",
                user_id="user-8812" if index >= size - 2 else "",
                engaged_ms=10_000 if name == "page_ping" else 0,
            )
        )
    return events


def state_of(events: list[SessionEvent], rules: SessionRules | None = None) -> VisitorSessions:
    state = None
    for each in events:
        state, _ = apply_event(state, each, each.received_at_ms, rules or SessionRules())
    assert state is not None
    return state


def state_bytes() -> dict[str, float]:
    """What a state holding one realistic 10-event session costs: in all, per event, for the session's own entry,
    and for the visitor's tables of distinct origins and devices."""
    data = to_bytes(state_of(realistic_session(BASE_MS)))
    document = orjson.loads(data)
    return {
        "total": len(data),
        "per_event": len(orjson.dumps(document[7])) / len(document[7]),
        "per_session": len(orjson.dumps(document[8])) / len(document[8]),
        "tables": len(orjson.dumps(document[5:7])),
    }


def test_a_round_trip_keeps_everything() -> None:
    rules = SessionRules()
    late_landing = event("late", -1, received_at_ms=BASE_MS + 30_000, utm_source="x", utm_campaign="y")
    state = state_of([*realistic_session(BASE_MS), late_landing, event("mail", 1, "email_open")])
    state, _ = flag_visitor_as_bot(state, "hit rate")
    kept = evict(state, BASE_MS + 5 * 3_600_000, rules)
    state = state_of(realistic_session(BASE_MS + 5 * 3_600_000), rules) if kept is None else kept
    state, _ = apply_event(state, event("new", 400), BASE_MS + 400 * 60_000, rules)
    data = to_bytes(state)
    restored = from_bytes(data)
    assert to_bytes(restored) == data
    assert restored.live_rows() == state.live_rows()
    assert restored.events == state.events
    assert restored.sessions == state.sessions
    assert (restored.seen, restored.spent_ids, restored.horizon_ms, restored.bot_reason) == (
        state.seen,
        state.spent_ids,
        state.horizon_ms,
        state.bot_reason,
    )


def test_a_state_mid_merge_round_trips() -> None:
    state = state_of([event("a", 0), event("b", 10), event("c", 50), event("d", 60)])
    state, _ = apply_event(
        state, event("x", 30, received_at_ms=BASE_MS + 61 * 60_000), BASE_MS + 61 * 60_000, SessionRules()
    )
    restored = from_bytes(to_bytes(state))
    assert restored.spent_ids == state.spent_ids
    assert restored.live_rows() == state.live_rows()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b"[2]",
        orjson.dumps([1, "s", "v", 0, "", [], [], [[0, "a", 1, 0, 0]], [], {}, {}]),  # an event of no session
        orjson.dumps([1, "s", "v", 0, "", [], [], [], [["id", 1, 1, 0]], {}, {}]),  # a session of no event
    ],
)
def test_foreign_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (any ValueError: the message names what is wrong)
        from_bytes(data)


def test_a_realistic_session_is_small() -> None:
    size = state_bytes()
    assert size["per_event"] < 100
    assert size["per_session"] < 70
    assert size["total"] < 1_300


def main() -> None:
    size = state_bytes()
    print(
        f"state of one realistic 10-event session: {size['total']} B; per retained event: {size['per_event']:.0f} B;"
        f" per open session (its own entry): {size['per_session']:.0f} B; origin and device tables: {size['tables']} B"
    )
    rules = SessionRules()
    events = [
        each for index in range(2_000) for each in realistic_session(BASE_MS + index * 2_400_000, first_id=index * 10)
    ]
    state: VisitorSessions | None = None
    started = time.perf_counter()
    for each in events:
        state, _ = apply_event(state, each, each.received_at_ms, rules)
        state = evict(state, each.received_at_ms, rules)
    elapsed = time.perf_counter() - started
    print(f"in-order apply_event + evict: {elapsed / len(events) * 1e6:.1f} µs/event ({len(events)} events)")


if __name__ == "__main__":
    main()
