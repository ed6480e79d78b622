"""Known referrer hosts: which search engine, social network, AI assistant, webmail or ad network a referrer is.

Search engines, social networks and AI assistants come from Matomo's searchengine-and-social-list
(``data/*.yml``; ``data/README.md`` says where from and under which licence). Webmail, ad networks and a few
non-search Google hosts are a short list of our own below, as Matomo's list has no such sections. All of it is
read once into a dict of host -> (medium, source name), plus one regular expression for the hosts with a
``{}`` country placeholder (``google.{}``, ``{}.search.yahoo.com``), which our list may use too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml

REFERRER_DATA = Path(__file__).parent / "data"
MAX_HOST_LENGTH = 253  # the longest DNS name

# Ours, not Matomo's: its list has no webmail or ad networks, and names google.com a search engine, which (as
# a host's parent domains count too) would make Google's sign-in and help pages organic search. Keep it short:
# the big providers only. The first list a host is in wins, so these come before Matomo's.
OWN_REFERRERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "email": {
        "Gmail": ("mail.google.com", "com.google.android.gm"),
        "Outlook.com": (
            "outlook.live.com",
            "mail.live.com",
            "outlook.office.com",
            "outlook.office365.com",
            "com.microsoft.office.outlook",
        ),
        "Yahoo! Mail": ("mail.yahoo.com", "mail.yahoo.co.jp", "com.yahoo.mobile.client.android.mail"),
        "AOL Mail": ("mail.aol.com",),
        "Proton Mail": ("mail.proton.me", "mail.protonmail.com"),
        "Zoho Mail": ("mail.zoho.com", "mail.zoho.eu"),
        "Yandex Mail": ("mail.yandex.{}", "mail.yandex.com"),
        "Mail.ru": ("e.mail.ru", "touch.mail.ru"),
        "GMX": ("deref-gmx.net", "deref-gmx.de", "deref-gmx.com"),
        "Web.de": ("deref-web.de",),
    },
    "paid": {
        "Google Ads": ("googleadservices.com", "googlesyndication.com", "doubleclick.net", "syndicatedsearch.goog"),
        "Criteo": ("criteo.com",),
        "AdRoll": ("adroll.com",),
        "Xandr": ("adnxs.com",),
        "Taboola": ("taboola.com",),
        "Outbrain": ("outbrain.com",),
        "Yandex Direct": ("an.yandex.ru", "yabs.yandex.{}", "yabs.yandex.com"),
    },
    "unknown": {  # a known site, but not a channel of its own: its referrals are plain referrals
        "Google": (
            "accounts.google.com",
            "myaccount.google.com",
            "support.google.com",
            "docs.google.com",
            "drive.google.com",
            "sites.google.com",
            "groups.google.com",
            "developers.google.com",
            "play.google.com",
        ),
    },
}

# Matomo's placeholder: "{}" is a country code, as a subdomain (``{}.bing.com``) or as the top-level domain,
# where it may also be a combined one (``google.{}`` is google.de, google.co.uk, google.com.au...).
_COUNTRY = "[a-z]{2}"
_COUNTRY_TLD = rf"(?:(?:com|org|net|co|it|edu)\.)?{_COUNTRY}"


class KnownReferrer(NamedTuple):
    medium: str  # search, social or chatbot (Matomo's lists), email, paid or unknown (ours)
    source: str  # "Google", "Facebook", "Gmail"...


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it keys the lookup cache
class ReferrerList:
    hosts: Mapping[str, KnownReferrer]
    host_patterns: re.Pattern[str] | None = None  # alternatives named _0, _1... for the placeholder hosts
    pattern_referrers: tuple[KnownReferrer, ...] = ()  # what _0, _1... are

    @classmethod
    def load(cls, directory: Path = REFERRER_DATA) -> ReferrerList:
        hosts: dict[str, KnownReferrer] = {}
        patterns: dict[str, KnownReferrer] = {}
        for medium, source, url in _entries(directory):
            host = str(url).strip().lower()
            if "/" in host:  # a host with a path (google.com/imgres) needs the path: not used here
                continue
            if "{}" not in host:
                hosts.setdefault(host, KnownReferrer(medium, str(source)))
            elif (pattern := _placeholder_pattern(host)) is not None:
                patterns.setdefault(pattern, KnownReferrer(medium, str(source)))
        alternatives = "|".join(f"(?P<_{number}>{pattern})" for number, pattern in enumerate(patterns))
        return cls(
            hosts=MappingProxyType(hosts),
            host_patterns=re.compile(alternatives) if alternatives else None,
            pattern_referrers=tuple(patterns.values()),
        )

    def get(self, domain: str) -> KnownReferrer | None:
        """The domain as listed, else as matched by a placeholder host; not its parent domains."""
        found = self.hosts.get(domain)
        if found is None and self.host_patterns is not None:
            match = self.host_patterns.fullmatch(domain)
            if match is not None and match.lastgroup is not None:
                found = self.pattern_referrers[int(match.lastgroup[1:])]
        return found


def _entries(directory: Path) -> Iterator[tuple[str, Any, Any]]:
    """(medium, source, host) in the order of precedence: ours, then AI assistants, social networks, search."""
    for medium, sources in OWN_REFERRERS.items():
        for source, own_hosts in sources.items():
            for host in own_hosts:
                yield medium, source, host
    listed_medium: dict[Any, str] = {}  # source name -> its medium
    for file_name, medium in (("AIAssistants.yml", "chatbot"), ("Socials.yml", "social")):
        for source, urls in (_read_yaml(directory / file_name) or {}).items():
            listed_medium.setdefault(source, medium)
            for url in urls or ():
                yield medium, source, url
    for source, configurations in (_read_yaml(directory / "SearchEngines.yml") or {}).items():
        # Matomo lists ChatGPT, Perplexity, You and Facebook (www.facebook.com) as search engines too, and tells
        # a search from a visit by the query's keyword parameter; by host alone, they are assistants and social.
        medium = listed_medium.get(source, "search")
        for configuration in configurations or ():
            for url in (configuration or {}).get("urls") or ():
                yield medium, source, url


def _read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _placeholder_pattern(host: str) -> str | None:
    """``google.{}`` -> a regular expression for google.de, google.co.uk...; ``None`` if "{}" is part of a label."""
    labels = host.split(".")
    parts: list[str] = []
    for position, label in enumerate(labels):
        if label == "{}":
            parts.append(_COUNTRY_TLD if position == len(labels) - 1 else _COUNTRY)
        elif "{}" in label:
            return None
        else:
            parts.append(re.escape(label))
    return r"\.".join(parts)


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
        found = referrers.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None
