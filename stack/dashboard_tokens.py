"""The dashboard token of a local stack: ``BEACON_DASHBOARD_TOKEN`` if set, else one generated once per
BEACON_HOME and kept there (mode 600), never in the repository. ``./beacon up`` prints a link with it."""

from __future__ import annotations

from pathlib import Path

from stack.local_secrets import local_secret

ENVIRONMENT_VARIABLE = "BEACON_DASHBOARD_TOKEN"


def dashboard_token(home: Path) -> str:
    return local_secret(home, ENVIRONMENT_VARIABLE, "dashboard_token")
