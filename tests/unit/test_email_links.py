"""Signed email links: rotation, tampering, no open redirect, and HTML wrapping."""

from __future__ import annotations

import pytest

from schemas.email import EmailClickTarget, EmailRecipientMessage, EmailTokens, InvalidEmailTokenError
from stack.email_links import click_url, open_pixel_url, wrap_email_html

MESSAGE = EmailRecipientMessage(site_id="shop", campaign_id="spring", message_id="send-1", recipient_id="contact-9")


def test_tokens_verify_under_rotation() -> None:
    before = EmailTokens(["key-1"])
    after = EmailTokens(["key-2", "key-1"])  # newest first
    assert after.read_open(before.open_token(MESSAGE)) == MESSAGE, "links already sent keep working"
    assert after.read_open(after.open_token(MESSAGE)) == MESSAGE
    with pytest.raises(InvalidEmailTokenError):
        EmailTokens(["key-2"]).read_open(before.open_token(MESSAGE))  # key-1 retired


def test_a_tampered_or_foreign_token_is_refused() -> None:
    tokens = EmailTokens(["key"])
    token = tokens.click_token(EmailClickTarget(**MESSAGE.model_dump(), url="https://shop.example/sale"))
    payload, _, signature = token.partition(".")
    with pytest.raises(InvalidEmailTokenError):
        tokens.read_click(payload + "." + signature[::-1])
    with pytest.raises(InvalidEmailTokenError):
        tokens.read_click(tokens.open_token(MESSAGE))  # an open token is not a click token
    with pytest.raises(InvalidEmailTokenError):
        tokens.read_click("https://evil.example/")


def test_a_click_destination_must_be_http() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        EmailClickTarget(**MESSAGE.model_dump(), url="javascript:alert(1)")


def test_wrapping_signs_every_web_link_and_adds_the_pixel() -> None:
    tokens = EmailTokens(["key"])
    email = (
        '<html><body><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a> '
        "<a class='x' href='http://blog.example/'>Blog</a> <a href=\"mailto:help@shop.example\">Help</a>"
        "</body></html>"
    )
    wrapped = wrap_email_html(email, "https://t.shop.example", tokens, MESSAGE)
    assert wrapped.count("https://t.shop.example/c/") == 2
    assert 'href="mailto:help@shop.example"' in wrapped
    assert "https://shop.example/sale" not in wrapped
    assert wrapped.index('<img src="https://t.shop.example/o/') < wrapped.index("</body>")
    first_link = wrapped.split('href="')[1].split('"')[0].replace("&amp;", "&")
    token = first_link.rsplit("/c/", 1)[1]
    assert tokens.read_click(token).url == "https://shop.example/sale?a=1&b=2", "the destination is unescaped"


def test_urls_have_the_collector_routes() -> None:
    tokens = EmailTokens(["key"])
    assert open_pixel_url("http://c.example/", tokens, MESSAGE).startswith("http://c.example/o/")
    assert open_pixel_url("http://c.example/", tokens, MESSAGE).endswith(".gif")
    assert click_url("http://c.example", tokens, MESSAGE, "https://a.example/").startswith("http://c.example/c/")
