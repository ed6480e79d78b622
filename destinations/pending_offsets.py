"""Which offset of a partition may be committed while its records are delivered out of order (pure).

Records of different people are delivered concurrently and finish in any order; the committed offset may only
pass records that are finished (delivered or dead-lettered), so a crash re-delivers whatever was not.
"""

from __future__ import annotations


class PartitionProgress:
    def __init__(self) -> None:
        self._pending: dict[int, None] = {}  # offsets in flight, in the (increasing) order they were read
        self._next: int | None = None  # one past the highest offset read

    def started(self, offset: int) -> None:
        self._pending[offset] = None
        self._next = offset + 1 if self._next is None else max(self._next, offset + 1)

    def finished(self, offset: int) -> None:
        self._pending.pop(offset, None)

    def committable(self) -> int | None:
        """The offset to commit: the first record not finished, else one past the last read; None: nothing read."""
        if self._pending:
            return next(iter(self._pending))
        return self._next

    def __len__(self) -> int:
        return len(self._pending)
