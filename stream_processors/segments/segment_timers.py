"""When to look at a person again for their segments: the earliest moment time alone may change a membership
(a deadline passes, a window slides), per person, soonest first."""

from __future__ import annotations

import heapq


class SegmentTimers:
    def __init__(self) -> None:
        self._heap: list[tuple[int, bytes, int]] = []
        self._due: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: bytes, partition: int, due_ms: int | None, now_ms: int) -> None:
        """The person's next evaluation (None: none needed); replaces the one scheduled before, unless that one
        is due at ``now_ms`` and not yet made: an event evaluates only the segments it touched
        (``segment_tracking.track_segments``), so a due evaluation stays due until the timer makes it."""
        pending = self._due.get(key)
        if pending is not None and pending <= now_ms:
            return
        if due_ms is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == due_ms:
            return
        self._due[key] = due_ms
        heapq.heappush(self._heap, (due_ms, key, partition))

    def due(self, now_ms: int, limit: int) -> list[tuple[bytes, int, int]]:
        """People whose evaluation is due at ``now_ms`` (at most ``limit``), taken off the schedule: (key,
        partition, the moment it was due)."""
        found: list[tuple[bytes, int, int]] = []
        while self._heap and self._heap[0][0] <= now_ms and len(found) < limit:
            due_ms, key, partition = heapq.heappop(self._heap)
            if self._due.get(key) == due_ms:  # (else: rescheduled since, a stale entry)
                del self._due[key]
                found.append((key, partition, due_ms))
        return found

    def forget_partition(self, partition: int) -> None:
        """A partition went to another worker: its people are no longer looked at here."""
        self._heap = [entry for entry in self._heap if entry[2] != partition]
        heapq.heapify(self._heap)
        kept = {key for _, key, _ in self._heap}
        self._due = {key: due for key, due in self._due.items() if key in kept}
