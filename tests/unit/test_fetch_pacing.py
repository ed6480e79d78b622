"""The stream worker's pacing of empty fetches relies on a private aiokafka method: pin what it needs."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from aiokafka.consumer.fetcher import Fetcher

from stream_processors import fetch_pacing


def test_aiokafka_still_has_the_fetch_step_it_paces() -> None:
    parameters = list(inspect.signature(Fetcher._proc_fetch_request).parameters)
    assert parameters[:4] == ["self", "assignment", "node_id", "request"]


def test_an_empty_fetch_waits_and_a_cancelled_wait_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([True, False, False])

    async def fetch(self: Any, *arguments: Any) -> bool:
        return next(answers)

    monkeypatch.setattr(Fetcher, "_proc_fetch_request", fetch)
    fetch_pacing.pace_empty_fetches(wait_seconds=0.2)
    fetch_pacing.pace_empty_fetches(wait_seconds=0.2)  # once per process: a second call changes nothing
    paced = Fetcher._proc_fetch_request

    async def scenario() -> tuple[bool, float, bool]:
        loop = asyncio.get_running_loop()
        with_data = await paced(object(), None, 1, None)
        started = loop.time()
        await paced(object(), None, 1, None)
        waited = loop.time() - started
        pending = asyncio.ensure_future(paced(object(), None, 1, None))
        await asyncio.sleep(0.01)
        pending.cancel()
        return with_data, waited, await pending  # aiokafka's close() awaits cancelled fetches like this

    with_data, waited, after_cancel = asyncio.run(scenario())
    assert with_data is True
    assert waited >= 0.2
    assert after_cancel is False
