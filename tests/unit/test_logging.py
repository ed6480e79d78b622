"""Logs: JSON lines, and a line repeated in a burst (a broker outage) shown once per window with its count."""

from __future__ import annotations

import logging

from runtime.logging import RepeatedLinesFilter


def record(message: str, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)


def test_a_repeated_line_shows_once_per_window_with_how_many_were_held_back() -> None:
    now = [0.0]
    repeats = RepeatedLinesFilter(window_seconds=10, clock=lambda: now[0])
    assert repeats.filter(record("Unable connect to node"))
    for step in range(1, 50):
        now[0] = step * 0.1
        assert not repeats.filter(record("Unable connect to node"))
    assert repeats.filter(record("another line"))
    assert repeats.filter(record("Unable connect to node", name="collector.sink"))  # another logger
    now[0] = 10.5
    shown = record("Unable connect to node")
    assert repeats.filter(shown)
    assert shown.repeated == 49  # type: ignore[attr-defined]
