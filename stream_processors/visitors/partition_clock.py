"""Per input partition: the stream time (the highest receipt time seen) and which visitors were active when,
so the agent can sweep idle visitors out of its table a few at a time. In memory only; after a restart it is
rebuilt from the recovered table, partition by partition, on each partition's first hit. The per-person stage
sweeps idle people's profiles with it too (keys are then people)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol


class StateHeader(Protocol):
    """What the clock reads of a recovered state (the visitor stage's, the per-person stage's profiles)."""

    @property
    def partition(self) -> int: ...
    @property
    def last_active_ms(self) -> int: ...
    @property
    def swept(self) -> bool: ...


RecoveredStates = Callable[[], Iterable[tuple[bytes, StateHeader]]]


class PartitionClock:
    """Active visitors, least recently updated first; swept ones (identity only) in the order they were swept."""

    def __init__(self, recovered: RecoveredStates) -> None:
        self._recovered = recovered
        self._stream_time_ms: dict[int, int] = {}
        self._active: dict[int, OrderedDict[bytes, int]] = {}
        self._swept: dict[int, OrderedDict[bytes, int]] = {}

    def advance(self, partition: int, received_at_ms: int) -> int:
        """The partition's stream time, this receipt included."""
        stream_time = max(self._stream_time_ms.get(partition, received_at_ms), received_at_ms)
        self._stream_time_ms[partition] = stream_time
        return stream_time

    def touched(self, partition: int, key: bytes, last_active_ms: int) -> None:
        active, swept = self._visitors(partition)
        swept.pop(key, None)
        active[key] = last_active_ms
        active.move_to_end(key)

    def swept(self, partition: int, key: bytes, last_active_ms: int) -> None:
        active, swept = self._visitors(partition)
        active.pop(key, None)
        swept[key] = last_active_ms

    def forget(self, partition: int, key: bytes) -> None:
        for visitors in self._visitors(partition):
            visitors.pop(key, None)

    def idle(self, partition: int, before_ms: int, limit: int) -> list[bytes]:
        """Up to ``limit`` active visitors last updated before ``before_ms``, oldest first."""
        return _oldest(self._visitors(partition)[0], before_ms, limit)

    def expired(self, partition: int, before_ms: int, limit: int) -> list[bytes]:
        """Up to ``limit`` swept visitors last active before ``before_ms``."""
        return _oldest(self._visitors(partition)[1], before_ms, limit)

    def _visitors(self, partition: int) -> tuple[OrderedDict[bytes, int], OrderedDict[bytes, int]]:
        if partition not in self._active:
            mine = sorted(
                (header.last_active_ms, key, header.swept)
                for key, header in self._recovered()
                if header.partition == partition
            )
            self._active[partition] = OrderedDict((key, last) for last, key, swept in mine if not swept)
            self._swept[partition] = OrderedDict((key, last) for last, key, swept in mine if swept)
        return self._active[partition], self._swept[partition]


def _oldest(visitors: OrderedDict[bytes, int], before_ms: int, limit: int) -> list[bytes]:
    keys: list[bytes] = []
    for key, last_active_ms in visitors.items():
        if last_active_ms >= before_ms or len(keys) == limit:
            break
        keys.append(key)
    return keys
