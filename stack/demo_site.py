"""The demo site a fresh stack offers: registered once per BEACON_HOME, its write key kept only there.

The key is random per installation and lives under BEACON_HOME (mode 600), never in the repository.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runtime.site_registry import read_sites
from schemas.sites import new_write_key
from stack.site_admin import add_write_key, create_site

DEMO_SITE_ID = "demo"
DEMO_DOMAINS = ["localhost", "127.0.0.1"]


@dataclass(frozen=True)
class DemoSite:
    site_id: str
    write_key: str


def ensure_demo_site(home: Path, kafka_bootstrap: str) -> DemoSite:
    """The demo site, registered in ``beacon.sites`` if it is not there yet."""
    path = home / "demo_site.json"
    if path.exists():
        site = DemoSite(**json.loads(path.read_text()))
    else:
        site = DemoSite(site_id=DEMO_SITE_ID, write_key=new_write_key())
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"site_id": site.site_id, "write_key": site.write_key}))
        path.chmod(0o600)
    asyncio.run(_register(site, kafka_bootstrap))
    return site


async def _register(site: DemoSite, kafka_bootstrap: str) -> None:
    """Create the demo site, or, when another home on the same broker created it, add this home's key."""
    registry = await read_sites(kafka_bootstrap)
    if registry.get(site.site_id) is None:
        await create_site(
            kafka_bootstrap, site_id=site.site_id, name="Demo shop", domains=DEMO_DOMAINS, write_key=site.write_key
        )
    elif registry.authenticate(site.write_key, datetime.now(UTC)) is None:
        await add_write_key(kafka_bootstrap, site.site_id, site.write_key)
