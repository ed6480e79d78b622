"""Sites and their write keys: the registry every collector holds in memory.

The registry is the compacted topic ``beacon.sites`` (one record per site id, the latest wins), written by
``./beacon sites …`` and followed by every collector, so collectors need no database to authenticate.
Write keys are stored only as SHA-256 digests; the key itself is shown once, when made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.sessions import SessionRules

WRITE_KEY_PREFIX = "bk_"
SITE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+(:\d{1,5})?$")


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


def digest_write_key(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


class WriteKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str
    created_at: datetime
    expires_at: datetime | None = None  # set when the key was rotated away: it works until then

    def valid_at(self, moment: datetime) -> bool:
        return self.expires_at is None or moment < self.expires_at


class Site(BaseModel):
    model_config = ConfigDict(frozen=True)

    site_id: str
    name: str
    domains: tuple[str, ...] = Field(default=())
    write_keys: tuple[WriteKey, ...] = Field(default=())
    revoked: bool = False
    updated_at: datetime
    sessions: SessionRules | None = None  # how the stream cuts this site's sessions; None: the worker's defaults

    @field_validator("site_id")
    @classmethod
    def _site_id_shape(cls, value: str) -> str:
        if not SITE_ID_PATTERN.match(value):
            raise ValueError("site ids are 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("domains")
    @classmethod
    def _domain_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not _DOMAIN.match(domain):
                raise ValueError(f"not a domain: {domain!r} (use example.com, shop.example.com or *.example.com)")
        return value

    def accepts_write_key(self, write_key: str, moment: datetime) -> bool:
        digest = digest_write_key(write_key)
        return not self.revoked and any(
            hmac.compare_digest(key.sha256, digest) and key.valid_at(moment) for key in self.write_keys
        )

    def allows_origin_host(self, host: str) -> bool:
        """Whether a browser page on ``host`` (from its Origin) may send events for this site."""
        host = host.lower()
        for domain in self.domains:
            if domain.startswith("*.") and (host.endswith(domain[1:]) or host == domain[2:]):
                return True
            if host == domain:
                return True
        return False
