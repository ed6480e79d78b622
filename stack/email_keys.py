"""The email signing keys of a local stack: ``BEACON_EMAIL_SIGNING_KEYS`` if set, else one key generated
once per BEACON_HOME and kept there (mode 600), never in the repository."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENVIRONMENT_VARIABLE = "BEACON_EMAIL_SIGNING_KEYS"


def email_signing_keys(home: Path) -> str:
    configured = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        return configured
    path = home / "email_signing_keys"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
