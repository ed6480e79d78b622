"""Who fetched an email's open pixel or followed its link: a person, a privacy or image proxy, or a scanner.

Heuristics (docs/analysts.md, "Machine opens"):
- Apple Mail Privacy Protection fetches every image of every email on delivery, through Apple's own networks
  and with the bare User-Agent ``Mozilla/5.0``: an open that says nothing about the person.
- Gmail and Yahoo fetch images through their proxies (``GoogleImageProxy``, ``YahooMailProxy``) when the
  person opens the email: the first fetch is an open, later ones may be the proxy's.
- Security scanners (link checkers of corporate mail, antivirus) fetch from cloud networks or with crawler or
  HTTP-library User-Agents: the bot flag of the enrich stage says so.
"""

from __future__ import annotations

from schemas.events import MailFetcher

APPLE_NETWORKS = frozenset({"APPLE-ENGINEERING", "APPLE-AUSTIN"})  # AS714 and AS6185, as GeoLite2 names them
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"


def mail_fetcher_of(user_agent: str, network: str, is_bot: bool) -> MailFetcher:
    if network in APPLE_NETWORKS or user_agent.strip() == APPLE_PROXY_USER_AGENT:
        return MailFetcher.APPLE_PRIVACY_PROXY
    if "GoogleImageProxy" in user_agent:
        return MailFetcher.GMAIL_IMAGE_PROXY
    if "YahooMailProxy" in user_agent:
        return MailFetcher.YAHOO_IMAGE_PROXY
    if is_bot:
        return MailFetcher.SCANNER
    return MailFetcher.MAIL_CLIENT
