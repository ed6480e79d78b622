"""The demo site a fresh stack offers: a site id and a write key generated once per BEACON_HOME.

The key is random per installation and lives only under BEACON_HOME, never in the repository.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

DEMO_SITE_ID = "demo"


@dataclass(frozen=True)
class DemoSite:
    site_id: str
    write_key: str


def ensure_demo_site(home: Path) -> DemoSite:
    path = home / "demo_site.json"
    if path.exists():
        return DemoSite(**json.loads(path.read_text()))
    site = DemoSite(site_id=DEMO_SITE_ID, write_key=secrets.token_urlsafe(24))
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"site_id": site.site_id, "write_key": site.write_key}))
    path.chmod(0o600)
    return site
