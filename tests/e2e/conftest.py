"""End-to-end fixtures: a registered site the running collector already knows."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
import pytest

from stack.settings import StackSettings
from stack.site_admin import create_site
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class RegisteredSite:
    site_id: str
    write_key: str


@pytest.fixture(scope="session")
def registered_site(beacon_stack: StackSettings) -> RegisteredSite:
    """A site created through the registry topic, as `./beacon sites create` does, once the collector has it."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    _, write_key = asyncio.run(
        create_site(beacon_stack.kafka_address, site_id=site_id, name="End-to-end shop", domains=["shop.example"])
    )

    def collector_knows_it() -> bool:
        probe = {"type": "identify", "userId": "registry-probe", "traits": {"probe": True}}
        response = httpx.post(f"{beacon_stack.collector_url}/v1/identify", json=probe, auth=(write_key, ""))
        return response.status_code == 200

    wait_until(collector_knows_it, what="the collector to load the new site", timeout_seconds=15)
    return RegisteredSite(site_id, write_key)
