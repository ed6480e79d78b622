"""Make the tracking links of one email for one recipient: the open pixel and signed click links.

``wrap_email_html`` rewrites every http(s) link of an HTML email into a signed click link and adds the open
pixel; ``./beacon email wrap`` and ``./beacon email sign`` call these.
"""

from __future__ import annotations

import html
import re

from schemas.email import EmailClickTarget, EmailRecipientMessage, EmailTokens

_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(?P<url>https?://[^"']+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def open_pixel_url(collector_url: str, tokens: EmailTokens, message: EmailRecipientMessage) -> str:
    return f"{collector_url.rstrip('/')}/o/{tokens.open_token(message)}.gif"


def click_url(collector_url: str, tokens: EmailTokens, message: EmailRecipientMessage, destination: str) -> str:
    target = EmailClickTarget(**message.model_dump(), url=destination)
    return f"{collector_url.rstrip('/')}/c/{tokens.click_token(target)}"


def wrap_email_html(email_html: str, collector_url: str, tokens: EmailTokens, message: EmailRecipientMessage) -> str:
    """Every ``<a href="http(s)://…">`` becomes a signed click link; the open pixel goes before ``</body>``."""

    def signed(match: re.Match[str]) -> str:
        destination = html.unescape(match.group("url"))
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(click_url(collector_url, tokens, message, destination))}{quote}"

    wrapped = _LINK.sub(signed, email_html)
    pixel = (
        f'<img src="{html.escape(open_pixel_url(collector_url, tokens, message))}" width="1" height="1" alt=""'
        ' style="display:block;border:0;width:1px;height:1px">'
    )
    if _BODY_END.search(wrapped):
        return _BODY_END.sub(lambda end: pixel + end.group(0), wrapped, count=1)
    return wrapped + pixel
