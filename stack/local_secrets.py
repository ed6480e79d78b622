"""Secrets of a local stack: the environment variable if set, else a random value generated once per
BEACON_HOME and kept there (mode 600), never in the repository."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def local_secret(home: Path, variable: str, file_name: str) -> str:
    configured = os.environ.get(variable, "").strip()
    if configured:
        return configured
    path = home / file_name
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
