"""Pace empty fetches: wait a moment after a fetch that brought nothing, before the next one.

A Kafka broker holds an empty fetch for ``fetch.max.wait.ms`` before it answers; the embedded broker
(noida-db) answers at once, so aiokafka's fetcher, which re-fetches as soon as an answer arrives, spins:
an idle faust worker took 86% of a core, an idle warehouse writer 85%. Faust builds its aiokafka consumers
itself, so the pause is added to aiokafka's fetcher, for every consumer of the process: after an empty
answer, ``EMPTY_FETCH_WAIT_SECONDS`` more before the next request, as the broker would have waited. On a
real broker it only adds that much to an idle partition's latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

EMPTY_FETCH_WAIT_SECONDS = 0.1

_FetchRequest = Callable[..., Awaitable[bool]]


def pace_empty_fetches(wait_seconds: float = EMPTY_FETCH_WAIT_SECONDS) -> None:
    """Patch aiokafka's fetcher once per process (it is a private method: a test pins its existence)."""
    original: _FetchRequest = Fetcher._proc_fetch_request
    if getattr(original, "paced", False):
        return

    async def fetch_then_wait_if_empty(self: Fetcher, *arguments: Any) -> bool:
        has_new_data = await original(self, *arguments)
        if not has_new_data:
            try:
                await asyncio.sleep(wait_seconds)
            except asyncio.CancelledError:
                # As the original does: the fetcher's close() cancels pending fetches and awaits them,
                # expecting a result, not the cancellation.
                return False
        return has_new_data

    fetch_then_wait_if_empty.paced = True  # type: ignore[attr-defined]
    Fetcher._proc_fetch_request = fetch_then_wait_if_empty
