"""The decoded form of the states an agent used last, so a busy key's state is not decoded on every event.

A faust table holds each key's state as bytes (what its changelog carries); decoding them is a large share
of a stage's cost. An entry here is valid only while the table still holds the very bytes object it was
decoded from (or encoded into): a state recovered from the changelog, or written by anything else, is a new
object and is decoded again. The states cached must never be changed in place (the stages return new ones).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

State = TypeVar("State")


class DecodedStates(Generic[State]):
    """The ``capacity`` most recently used decoded states, by key."""

    def __init__(self, decode: Callable[[bytes], State], capacity: int) -> None:
        self._decode = decode
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[bytes, State]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def decoded(self, key: bytes, stored: bytes) -> State:
        """``stored`` (the table's value for ``key``) decoded, from memory when it is the value last seen."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] is stored:
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]
        self.misses += 1
        state = self._decode(stored)
        self.remember(key, stored, state)
        return state

    def remember(self, key: bytes, stored: bytes | None, state: State) -> None:
        """``state`` is what ``stored``, now the table's value for ``key``, decodes to (None: key deleted)."""
        if stored is None or self._capacity <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (stored, state)
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
