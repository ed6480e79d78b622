"""A site registered on a running stack, shared by the end-to-end and fuzz tests."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx

from stack.settings import StackSettings
from stack.site_admin import create_site
from tests.support.polling import wait_until


@dataclass(frozen=True)
class RegisteredSite:
    site_id: str
    write_key: str


def register_site(
    stack: StackSettings, *, prefix: str = "e2e", domains: tuple[str, ...] = ("shop.example",)
) -> RegisteredSite:
    """A site created through the registry topic, as `./beacon sites create` does, once the collector has it."""
    site_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _, write_key = asyncio.run(
        create_site(stack.kafka_address, site_id=site_id, name="End-to-end shop", domains=list(domains))
    )

    def collector_knows_it() -> bool:
        probe = {"type": "identify", "userId": "registry-probe", "traits": {"probe": True}}
        response = httpx.post(f"{stack.collector_url}/v1/identify", json=probe, auth=(write_key, ""))
        return response.status_code == 200

    wait_until(collector_knows_it, what="the collector to load the new site", timeout_seconds=15)
    return RegisteredSite(site_id, write_key)
