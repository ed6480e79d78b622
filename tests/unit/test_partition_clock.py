"""The sweeper's bookkeeping: stream time per partition, idle and expired visitors, rebuilt after a restart."""

from __future__ import annotations

from stream_processors.visitors.partition_clock import PartitionClock
from stream_processors.visitors.visitor_state import VisitorState, encode_visitor_state, visitor_state_header


def test_stream_time_only_moves_forward() -> None:
    clock = PartitionClock(list)
    assert clock.advance(0, 1_000) == 1_000
    assert clock.advance(0, 500) == 1_000
    assert clock.advance(1, 500) == 500


def test_idle_visitors_come_oldest_first_and_a_touch_makes_them_recent() -> None:
    clock = PartitionClock(list)
    for number, key in enumerate((b"s:a", b"s:b", b"s:c")):
        clock.touched(0, key, number * 100)
    clock.touched(0, b"s:a", 500)
    assert clock.idle(0, before_ms=250, limit=5) == [b"s:b", b"s:c"]
    assert clock.idle(0, before_ms=250, limit=1) == [b"s:b"]
    clock.swept(0, b"s:b", 100)
    assert clock.idle(0, before_ms=250, limit=5) == [b"s:c"]
    assert clock.expired(0, before_ms=250, limit=5) == [b"s:b"]
    clock.forget(0, b"s:b")
    assert clock.expired(0, before_ms=250, limit=5) == []


def test_after_a_restart_each_partition_indexes_the_states_recovered_for_it() -> None:
    recovered = {
        b"s:a": encode_visitor_state(VisitorState(partition=2, last_active_ms=300)),
        b"s:b": encode_visitor_state(VisitorState(partition=2, last_active_ms=100)),
        b"s:c": encode_visitor_state(VisitorState(partition=5, last_active_ms=50)),
    }
    clock = PartitionClock(lambda: ((key, visitor_state_header(value)) for key, value in recovered.items()))
    # States without sessions are what a sweep leaves: they wait for the memory period, not the idle one.
    assert clock.expired(2, before_ms=1_000, limit=5) == [b"s:b", b"s:a"]
    assert clock.idle(2, before_ms=1_000, limit=5) == []
    assert clock.expired(5, before_ms=1_000, limit=5) == [b"s:c"]
