"""The webhook signing keys of a local stack: ``BEACON_WEBHOOK_SIGNING_KEYS`` if set, else one key generated
once per BEACON_HOME and kept there (mode 600), never in the repository. Receivers verify with it
(``./beacon segments webhook-key`` prints it)."""

from __future__ import annotations

from pathlib import Path

from stack.local_secrets import local_secret

ENVIRONMENT_VARIABLE = "BEACON_WEBHOOK_SIGNING_KEYS"


def webhook_signing_keys(home: Path) -> str:
    return local_secret(home, ENVIRONMENT_VARIABLE, "webhook_signing_keys")
