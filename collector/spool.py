"""A durable, size-bounded, append-only spool of Kafka records, for when the broker is down or slow.

Records are appended to segment files (one JSON line each) and fsync'd before the caller is told they are
accepted. Segments are drained oldest first; a segment is deleted only after the broker acknowledged every
record in it, so a crash mid-drain re-sends (downstream is idempotent on event_id) and never loses.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson

_SEGMENT_SUFFIX = ".spool"


class SpoolFullError(Exception):
    """The spool reached its size bound; the caller must refuse new input (503) rather than lose it."""


@dataclass(frozen=True)
class SpooledRecord:
    topic: str
    key: bytes
    value: bytes


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 8 * 1024 * 1024) -> None:
        self._directory = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        existing = self._segments()
        self._next_number = (int(existing[-1].stem) + 1) if existing else 1
        self._current: Path | None = None  # the segment being appended to; never drained while open
        self._size = sum(segment.stat().st_size for segment in existing)

    @property
    def size_bytes(self) -> int:
        return self._size

    def is_empty(self) -> bool:
        return self._size == 0 and not self._sealed_segments()

    def append(self, records: list[SpooledRecord]) -> None:
        """Write ``records`` durably (fsync) or raise ``SpoolFullError`` having written none of them."""
        lines = b"".join(
            orjson.dumps({"topic": record.topic, "key": record.key.decode(), "value": record.value.decode()}) + b"\n"
            for record in records
        )
        with self._lock:
            if self._size + len(lines) > self._max_bytes:
                raise SpoolFullError(f"the spool holds {self._size} bytes of its {self._max_bytes}")
            if self._current is None or self._current.stat().st_size >= self._segment_bytes:
                self._current = self._directory / f"{self._next_number:012d}{_SEGMENT_SUFFIX}"
                self._next_number += 1
            with self._current.open("ab") as segment:
                segment.write(lines)
                segment.flush()
                os.fsync(segment.fileno())
            self._size += len(lines)

    def oldest_segment(self) -> tuple[Path, list[SpooledRecord]] | None:
        """The oldest complete segment and its records; the open one is sealed first if it is the only one."""
        with self._lock:
            sealed = self._sealed_segments()
            if not sealed and self._current is not None:
                self._current = None  # seal it: new records start a new segment
                sealed = self._sealed_segments()
            if not sealed:
                return None
            path = sealed[0]
        return path, _read_segment(path)

    def remove(self, segment: Path) -> None:
        with self._lock:
            size = segment.stat().st_size
            segment.unlink()
            self._size -= size

    def _segments(self) -> list[Path]:
        return sorted(self._directory.glob(f"*{_SEGMENT_SUFFIX}"))

    def _sealed_segments(self) -> list[Path]:
        return [segment for segment in self._segments() if segment != self._current]


def _read_segment(path: Path) -> list[SpooledRecord]:
    lines = path.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines):
        if not line:
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number == len(lines) - 1:
                break  # a write torn by a crash before its fsync: its caller was never told it was accepted
            raise
        records.append(SpooledRecord(entry["topic"], entry["key"].encode(), entry["value"].encode()))
    return records
