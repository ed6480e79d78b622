"""Known referrer hosts: which search engine, social network, webmail or ad network a referrer is.

The list is Snowplow's maintained ``referers.yml`` (``data/README.md`` says where from and under which
licence), read once into a dict of host -> (medium, source name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import urlsplit

import yaml

REFERRER_LIST = Path(__file__).parent / "data" / "referers.yml"
MAX_HOST_LENGTH = 253  # the longest DNS name


class KnownReferrer(NamedTuple):
    medium: str  # the list's section: search, social, email, paid, chatbot or unknown
    source: str  # "Google", "Facebook", "Gmail"...


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it keys the lookup cache
class ReferrerList:
    hosts: Mapping[str, KnownReferrer]

    @classmethod
    def load(cls, path: Path = REFERRER_LIST) -> ReferrerList:
        sections = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        hosts: dict[str, KnownReferrer] = {}
        for medium, sources in sections.items():
            for source, entry in (sources or {}).items():
                for domain in (entry or {}).get("domains") or ():
                    host = str(domain).strip().lower()
                    if "/" not in host:  # a domain with a path (google.com/imgres) needs the path: not used here
                        hosts.setdefault(host, KnownReferrer(str(medium), str(source)))
        return cls(MappingProxyType(hosts))


def referrer_host(referrer: str) -> str:
    """The referrer URL's host, lower case, without port or trailing dot; ``""`` if it has none.

    Android apps refer as ``android-app://com.google.android.gm/``: their package name is the host.
    """
    try:
        host = urlsplit(referrer.strip()).hostname or ""
    except ValueError:  # e.g. a broken IPv6 literal, "http://[::1"
        return ""
    host = host.rstrip(".")
    return host if len(host) <= MAX_HOST_LENGTH else ""


@lru_cache(maxsize=8192)
def known_referrer(referrers: ReferrerList, host: str) -> KnownReferrer | None:
    """The host itself, else its parent domains (``www.google.co.uk`` -> ``google.co.uk``); ``None`` if unknown."""
    labels = host.split(".")
    for start in range(max(len(labels) - 1, 1)):
        found = referrers.hosts.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None
