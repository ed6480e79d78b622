"""Campaign tags of a page URL (``utm_*``, ad click ids) and the channel a visit came through.

The channel rules follow GA4's default channel grouping, in this order (the first that holds wins):

1. a paid click id, or a paid ``utm_medium`` (``cpc``, ``ppc``, ``paid*``, ``display``...) -> ``paid``
2. an email ``utm_medium``/``utm_source`` (``email``, ``e-mail``, ``newsletter``...) or an email event -> ``email``
3. a social ``utm_medium`` (``social``, ``social-network``, ``sm``...) -> ``social``; ``organic`` -> ``search``
4. a referrer the list knows: search, social, email (webmail) or paid (ad network) -> that channel
5. a referrer on the page's own site (``www.`` ignored) -> ``internal``
6. any other referrer, or campaign tags no rule above matched -> ``referral``
7. nothing at all -> ``direct``
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl

from schemas.events import Channel, HitSource

# In the order they are looked for; the first present names click_id_type.
CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "msclkid", "ttclid", "li_fat_id", "twclid", "yclid", "sccid",
             "fbclid")  # fmt: skip
# Facebook adds fbclid to every outbound link, organic posts' included, so it alone does not mean paid.
PAID_CLICK_IDS = frozenset(CLICK_IDS) - {"fbclid"}
UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_TAG_LENGTH = 500

_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*|display|banner|expandable|interstitial)$")
_EMAIL = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter"})
_SOCIAL_MEDIUM = frozenset({"social", "social-network", "social-media", "sm", "social network", "social media"})
_REFERRER_CHANNELS = {"search": Channel.SEARCH, "social": Channel.SOCIAL, "email": Channel.EMAIL, "paid": Channel.PAID}


class CampaignTags(NamedTuple):
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    click_id_type: str = ""


def campaign_tags(query: str) -> CampaignTags:
    """The ``utm_*`` values as given (stripped, case kept) and the first click id present, from a URL's query.

    Parameter names are matched in any case (``UTM_Source``); the first occurrence of a repeated one wins.
    """
    if not query:
        return CampaignTags()
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = name.strip().lower()
        if (key in UTM_TAGS or key in CLICK_IDS) and key not in found:
            found[key] = value.strip()[:MAX_TAG_LENGTH]
    click_id_type = next((name for name in CLICK_IDS if found.get(name)), "")
    return CampaignTags(
        utm_source=found.get("utm_source", ""),
        utm_medium=found.get("utm_medium", ""),
        utm_campaign=found.get("utm_campaign", ""),
        utm_term=found.get("utm_term", ""),
        utm_content=found.get("utm_content", ""),
        click_id_type=click_id_type,
    )


class ChannelClues(NamedTuple):
    utm_source: str
    utm_medium: str
    click_id_type: str
    source: HitSource
    referrer_host: str
    referrer_medium: str  # the referrer list's medium for that host, "" if it does not know it
    page_host: str


def channel_of(clues: ChannelClues) -> Channel:
    """The rules of this module's docstring, in order."""
    medium = clues.utm_medium.lower()
    if clues.click_id_type in PAID_CLICK_IDS or _PAID_MEDIUM.match(medium):
        return Channel.PAID
    if medium in _EMAIL or clues.utm_source.lower() in _EMAIL or clues.source is HitSource.EMAIL:
        return Channel.EMAIL
    if medium in _SOCIAL_MEDIUM:
        return Channel.SOCIAL
    if medium == "organic":
        return Channel.SEARCH
    if clues.referrer_medium in _REFERRER_CHANNELS:
        return _REFERRER_CHANNELS[clues.referrer_medium]
    if clues.referrer_host and _site(clues.referrer_host) == _site(clues.page_host):
        return Channel.INTERNAL
    if clues.referrer_host or clues.utm_source or clues.utm_medium:
        return Channel.REFERRAL
    return Channel.DIRECT


def _site(host: str) -> str:
    return host.removeprefix("www.")
