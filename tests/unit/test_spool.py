"""The collector's spool: durable appends, oldest-first segments, a size bound, recovery after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.spool import Spool, SpooledRecord, SpoolFullError


def records(count: int, start: int = 0) -> list[SpooledRecord]:
    return [
        SpooledRecord("beacon.raw_hits", f"site:{n}".encode(), f'{{"n":{n}}}'.encode())
        for n in range(start, start + count)
    ]


def drain(spool: Spool) -> list[SpooledRecord]:
    drained = []
    while (segment := spool.oldest_segment()) is not None:
        path, batch = segment
        drained.extend(batch)
        spool.remove(path)
    return drained


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)
    for start in range(0, 50, 5):
        spool.append(records(5, start))
    assert len(list(tmp_path.glob("*.spool"))) > 1
    assert drain(spool) == records(50)
    assert spool.is_empty()
    assert spool.size_bytes == 0


def test_appends_made_while_draining_are_kept_for_the_next_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(records(3))
    segment = spool.oldest_segment()
    assert segment is not None
    spool.append(records(2, start=3))  # arrives while the first segment is being sent
    spool.remove(segment[0])
    assert not spool.is_empty()
    assert drain(spool) == records(2, start=3)


def test_a_full_spool_refuses_whole_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=500)
    spool.append(records(5))
    with pytest.raises(SpoolFullError):
        spool.append(records(50))
    assert drain(spool) == records(5), "the refused batch left nothing behind"


def test_a_restarted_collector_finds_what_was_spooled(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=1 << 20).append(records(7))
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    assert not reopened.is_empty()
    assert drain(reopened) == records(7)


def test_a_write_torn_by_a_crash_is_ignored_but_corruption_is_not(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(records(2))
    segment = next(tmp_path.glob("*.spool"))
    with segment.open("ab") as file:
        file.write(b'{"topic": "beacon.raw_hi')  # the crash came before the fsync returned
    assert drain(Spool(tmp_path, max_bytes=1 << 20)) == records(2)
