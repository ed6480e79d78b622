"""What ``./beacon funnels`` and ``./beacon segments`` share: asking the running stream worker what it runs."""

from __future__ import annotations

from pathlib import Path

import httpx


def remove_definition(path: Path) -> bool:
    """Delete a definition's file (the worker stops running it within a second); False if there is none."""
    if not path.exists():
        return False
    path.unlink()
    return True


def running_definitions(stream_worker_url: str, kind: str) -> dict[str, str] | None:
    """The ids and versions of ``kind`` ("funnels", "segments") the running stream worker has loaded; None if
    it does not answer."""
    try:
        response = httpx.get(f"{stream_worker_url}/definitions", timeout=3)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    loaded: dict[str, str] = response.json()[kind]
    return loaded
