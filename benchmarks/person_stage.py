"""The per-person stage's cost per event, in one process, without Kafka: what customer profiles add.

Events are the traffic generator's (page views and pings, products, carts, orders, chats, newsletters; no
funnels defined), in send order, with its duplicates; sessions are cut at 30 minutes of inactivity. Reported:
µs per event of the agent's step (decode the state, ``track_person``, encode it) and of ``track_profile`` alone,
profile versions written per event (the write amplification of ``beacon.customer_profiles`` and its topic),
changelog bytes per event (each state change is a changelog record), and state bytes per person, before and
after an idle sweep.

    .venv/bin/python -m benchmarks.person_stage --visitors 3000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from schemas.events import Event, HitSource
from schemas.traffic import TrafficSettings
from stack.traffic_plan import plan_traffic
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state
from stream_processors.people.track_person import PersonRules, track_person
from stream_processors.profiles.profile_state import ProfileState
from stream_processors.profiles.track_profile import ProfileRules, sweep_profile, track_profile
from stream_processors.visitors.track_event import milliseconds

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOW = START + timedelta(hours=8)
IDLE = timedelta(minutes=30)


def sample_events(visitors: int, seed: int) -> list[Event]:
    """The generator's events as the visitor stage would hand them on (with a session id, in send order)."""
    planned = plan_traffic("shop", TrafficSettings(seed=seed, visitors=visitors, start=START, hours=6))
    last_seen: dict[str, tuple[datetime, uuid.UUID]] = {}
    events = []
    for item in sorted(planned, key=lambda planned_event: planned_event.send_at):
        session = uuid.UUID(int=0)
        if not item.name.startswith("email_"):
            previous = last_seen.get(item.visitor_id)
            session = previous[1] if previous and item.occurred_at - previous[0] < IDLE else uuid.uuid4()
            last_seen[item.visitor_id] = (item.occurred_at, session)
        event = Event(
            event_id=item.event_id, site_id="shop", event_name=item.name, event_time=item.occurred_at,
            received_at=item.send_at, anonymous_id=item.visitor_id, user_id=item.user_id, url=item.url,
            referrer=item.referrer, user_agent=item.user_agent, ip="", source=HitSource.BROWSER,
            properties={key: str(value) for key, value in item.properties.items()}, visitor_id=item.visitor_id,
            session_id=session, is_bot=item.bot,
        )  # fmt: skip
        events.append(event)
    return events


def run(events: list[Event]) -> tuple[float, Counter[str], dict[str, bytes]]:
    """The agent's path per event (decode, ``track_person``, encode when changed): seconds, what was written, and
    each person's final state (encoded)."""
    table: dict[str, bytes] = {}
    written: Counter[str] = Counter()
    rules = PersonRules()
    started = time.perf_counter()
    for event in events:
        stored = table.get(event.person_id)
        state = decode_person_state(stored) if stored is not None else PersonState()
        changes = track_person(state, event, rules, NOW, milliseconds(event.received_at))
        if changes.changed:
            encoded = encode_person_state(changes.state)
            table[event.person_id] = encoded
            written["changelog records"] += 1
            written["changelog bytes"] += len(encoded)
        written["profile versions"] += changes.profile is not None
    return time.perf_counter() - started, written, table


def run_profiles_alone(events: list[Event]) -> float:
    """``track_profile`` by itself, its state kept decoded: what profiles add to the step."""
    states: dict[str, ProfileState | None] = {}
    rules = ProfileRules()
    started = time.perf_counter()
    for event in events:
        states[event.person_id], _ = track_profile(
            states.get(event.person_id), event, rules, milliseconds(event.received_at), 0, NOW
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    events = sample_events(arguments.visitors, arguments.seed)
    names = Counter(event.event_name for event in events)
    print(f"{len(events)} events of {len({event.person_id for event in events})} people: {dict(names.most_common(6))}")
    for name, timed in (
        ("decode + track_person + encode", lambda: run(events)[0]),
        ("track_profile alone", lambda: run_profiles_alone(events)),
    ):
        per_event = [timed() / len(events) * 1e6 for _ in range(arguments.rounds)]
        print(f"{name}: median {statistics.median(per_event):.1f} µs/event, best {min(per_event):.1f}")
    _, written, table = run(events)
    print(
        f"profile versions: {written['profile versions']} ({written['profile versions'] / len(events):.2f} per event,"
        f" {written['profile versions'] / (len(events) - names['page_ping']):.2f} per event other than a ping)"
    )
    print(
        f"changelog: {written['changelog records'] / len(events):.2f} records per event,"
        f" {written['changelog bytes'] / max(written['changelog records'], 1):.0f} bytes per record"
    )
    sizes = [len(value) for value in table.values()]
    swept = []
    for value in table.values():
        state = decode_person_state(value)
        if state.profile is not None:
            state = PersonState(state.funnels, state.email, sweep_profile(state.profile))
        swept.append(len(encode_person_state(state)))
    print(
        f"state per person: mean {statistics.mean(sizes):.0f} bytes, max {max(sizes)};"
        f" after the idle sweep: mean {statistics.mean(swept):.0f}, max {max(swept)}"
    )


if __name__ == "__main__":
    main()
