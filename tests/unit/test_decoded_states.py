"""A decoded state is reused only while the table holds the very bytes it came from."""

from __future__ import annotations

from stream_processors.decoded_states import DecodedStates


def test_a_state_is_decoded_again_once_the_table_holds_other_bytes() -> None:
    decoded: list[bytes] = []

    def decode(stored: bytes) -> str:
        decoded.append(stored)
        return stored.decode()

    states = DecodedStates(decode, capacity=2)
    first = b"one"
    assert states.decoded(b"k", first) == "one"
    assert states.decoded(b"k", first) == "one"
    assert decoded == [b"one"], "the same bytes object: decoded once"
    recovered = bytes(bytearray(b"one"))  # equal, but another object: as restored from the changelog
    assert states.decoded(b"k", recovered) == "one"
    assert len(decoded) == 2

    written = b"two"
    states.remember(b"k", written, "two")  # what the agent stores after an event
    assert states.decoded(b"k", written) == "two"
    assert len(decoded) == 2
    states.remember(b"k", None, "")  # deleted
    assert len(states) == 0


def test_the_least_recently_used_go_first() -> None:
    states = DecodedStates(bytes.decode, capacity=2)
    values = {key: key * 2 for key in (b"a", b"b", b"c")}
    states.decoded(b"a", values[b"a"])
    states.decoded(b"b", values[b"b"])
    states.decoded(b"a", values[b"a"])  # a is used again: b is the oldest
    states.decoded(b"c", values[b"c"])
    assert len(states) == 2
    misses = states.misses
    states.decoded(b"a", values[b"a"])
    assert states.misses == misses
    states.decoded(b"b", values[b"b"])
    assert states.misses == misses + 1


def test_capacity_zero_keeps_nothing() -> None:
    states = DecodedStates(bytes.decode, capacity=0)
    value = b"x"
    states.decoded(b"k", value)
    states.decoded(b"k", value)
    assert (states.misses, len(states)) == (2, 0)
