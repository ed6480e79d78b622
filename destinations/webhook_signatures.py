"""Webhook signatures, as Stripe and Svix make them: the sender signs, a receiver checks.

A request carries ``Beacon-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]``: HMAC-SHA256, under a signing
key, of ``<t>.`` followed by the body's bytes. There is one ``v1`` per configured key (newest first), so while
keys rotate a receiver holding either the new or the old key accepts the request. The timestamp is signed too,
so a receiver can refuse a replayed old request (``tolerance``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Beacon-Signature"


def sign(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """The ``Beacon-Signature`` header of ``body`` sent at ``timestamp``: one ``v1`` per secret, newest first."""
    if not secrets:
        raise ValueError("at least one webhook signing key is needed")
    signed = f"{timestamp}.".encode() + body
    signatures = ",".join(f"v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}" for secret in secrets)
    return f"t={timestamp},{signatures}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None) -> bool:
    """Whether ``header`` (Beacon-Signature) signs ``body`` (the raw request body, before any JSON parsing)
    under ``secret``, sent less than ``tolerance`` seconds from now. Uses only hashlib, hmac and time."""
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    current = time.time() if now is None else now
    if timestamp is None or abs(current - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
