"""The cookieless visitor id: a keyed hash of (site, full IP, User-Agent) under a salt that changes daily.

As Plausible does it: the same browser on the same network counts as one visitor within a UTC day and cannot
be followed from one day to the next, nor from one site to another. The day's salt is an HMAC of the UTC
date under ``BEACON_STREAM_VISITOR_SALT_SECRET``; it is never stored with the data. Unlike Plausible's
random salts, deleted after two days, ours can be recomputed by whoever holds the secret: that is what makes
a replay of raw hits give the same hashes, and why the secret must stay out of the warehouse (rotate it to
make old hashes unlinkable).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from functools import lru_cache

_SALT_CONTEXT = b"beacon visitor salt "


@lru_cache(maxsize=16)
def daily_salt(secret: bytes, day: date) -> bytes:
    """32 bytes for ``day``, derived from ``secret``; the same secret and day always give the same salt."""
    return hmac.digest(secret, _SALT_CONTEXT + day.isoformat().encode(), "sha256")


def visitor_hash(salt: bytes, site_id: str, ip: str, user_agent: str) -> str:
    """32 hex digits (BLAKE2b-128 keyed with the salt); the fields are NUL-separated so none can run into the
    next."""
    message = "\0".join((site_id, ip, user_agent)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(message, digest_size=16, key=salt).hexdigest()
