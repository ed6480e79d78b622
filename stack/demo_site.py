"""The demo site a fresh stack offers: registered once per BEACON_HOME, its write key kept only there.

The key is random per installation and lives under BEACON_HOME (mode 600), never in the repository. Its
domains are any page on this machine and the collector's own origin, which serves the demo shop at ``/demo``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runtime.site_registry import read_sites
from schemas.sites import new_write_key
from stack.site_admin import add_domains, add_write_key, create_site

DEMO_SITE_ID = "demo"
DEMO_DOMAINS = ["localhost", "127.0.0.1"]


@dataclass(frozen=True)
class DemoSite:
    site_id: str
    write_key: str


def demo_domains(collector_port: int) -> list[str]:
    """Pages on this machine (the traffic generator's origin is ``http://localhost``) and the collector's own
    origins: a page's Origin names its port unless it is 80 or 443."""
    return [*DEMO_DOMAINS, f"localhost:{collector_port}", f"127.0.0.1:{collector_port}"]


def ensure_demo_site(home: Path, kafka_bootstrap: str, domains: list[str] | None = None) -> DemoSite:
    """The demo site, registered in ``beacon.sites`` if it is not there yet, with at least ``domains``."""
    path = home / "demo_site.json"
    if path.exists():
        site = DemoSite(**json.loads(path.read_text()))
    else:
        site = DemoSite(site_id=DEMO_SITE_ID, write_key=new_write_key())
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"site_id": site.site_id, "write_key": site.write_key}))
        path.chmod(0o600)
    asyncio.run(_register(site, kafka_bootstrap, domains or DEMO_DOMAINS))
    return site


async def _register(site: DemoSite, kafka_bootstrap: str, domains: list[str]) -> None:
    """Create the demo site, or, when another home on the same broker created it, add this home's key; and
    the domains it lacks (a collector on another port)."""
    registry = await read_sites(kafka_bootstrap)
    registered = registry.get(site.site_id)
    if registered is None:
        await create_site(
            kafka_bootstrap, site_id=site.site_id, name="Demo shop", domains=domains, write_key=site.write_key
        )
        return
    if registry.authenticate(site.write_key, datetime.now(UTC)) is None:
        await add_write_key(kafka_bootstrap, site.site_id, site.write_key)
    if not set(domains) <= set(registered.domains):
        await add_domains(kafka_bootstrap, site.site_id, domains)
