"""Email opens and clicks through the running stack: signed links count, tampered ones never redirect."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
from clickhouse_connect.driver.client import Client

from collector.pixel import TRANSPARENT_GIF
from schemas.email import EmailRecipientMessage, EmailTokens
from stack.email_keys import email_signing_keys
from stack.email_links import click_url, open_pixel_url
from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite

ROOT = Path(__file__).resolve().parents[2]


def rows(clickhouse: Client, sql: str, **parameters: str) -> list[tuple[object, ...]]:
    return list(clickhouse.query(sql, parameters=parameters).result_rows)


def test_opens_and_clicks_are_recorded_and_bad_links_never_redirect(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    recipient = f"contact-{uuid.uuid4().hex[:8]}"
    message = EmailRecipientMessage(
        site_id=registered_site.site_id, campaign_id="spring-sale", message_id="send-1", recipient_id=recipient
    )
    tokens = EmailTokens(email_signing_keys(beacon_stack.home).split(","))
    apple_proxy = {"User-Agent": "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko)"}
    opened = httpx.get(open_pixel_url(beacon_stack.collector_url, tokens, message), headers=apple_proxy)
    assert (opened.status_code, opened.content) == (200, TRANSPARENT_GIF)
    clicked = httpx.get(click_url(beacon_stack.collector_url, tokens, message, "https://shop.example/sale?x=1"))
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.example/sale?x=1"

    sql = (
        "SELECT event_name, user_id, properties['campaign_id'], properties['url'], source, user_agent"
        " FROM beacon.events FINAL WHERE user_id = {r:String} ORDER BY event_name"
    )
    wait_until(lambda: len(rows(clickhouse, sql, r=recipient)) == 2, what="the open and the click")
    (click, open_) = rows(clickhouse, sql, r=recipient)
    assert click[:5] == ("email_clicked", recipient, "spring-sale", "https://shop.example/sale?x=1", "email")
    assert open_ == ("email_opened", recipient, "spring-sale", "", "email", apple_proxy["User-Agent"])
    assert str(click[5]).startswith("python-httpx/"), "the user agent is kept to tell proxies and scanners apart"

    forged = click_url(beacon_stack.collector_url, EmailTokens(["not-our-key"]), message, "https://evil.example/")
    refused = httpx.get(forged)
    assert refused.status_code == 400
    assert "location" not in refused.headers
    unsigned = httpx.get(f"{beacon_stack.collector_url}/o/{recipient}.gif")
    assert unsigned.content == TRANSPARENT_GIF
    bad = "SELECT count() FROM beacon.dead_letters WHERE reason = 'invalid_signature' AND payload LIKE {m:String}"
    wait_until(lambda: clickhouse.command(bad, parameters={"m": f"%{recipient}%"}) == 1, what="the unsigned open")


def test_email_sent_through_the_api_and_links_from_the_cli(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    recipient = f"contact-{uuid.uuid4().hex[:8]}"
    ids = {"campaign_id": "newsletter-48", "message_id": "send-7", "recipient_id": recipient}
    sent = httpx.post(
        f"{beacon_stack.collector_url}/v1/track",
        content=orjson.dumps({"event": "email_sent", "userId": recipient, "properties": ids}),
        auth=(registered_site.write_key, ""),
    )
    assert sent.status_code == 200, sent.text
    missing = httpx.post(
        f"{beacon_stack.collector_url}/v1/track",
        content=orjson.dumps({"event": "email_sent", "userId": recipient, "properties": {"campaign_id": "x"}}),
        auth=(registered_site.write_key, ""),
    )
    assert missing.json()["errors"][0]["reason"] == "invalid_property"

    environment = {key: value for key, value in os.environ.items() if not key.startswith("BEACON_")} | {
        "BEACON_HOME": str(beacon_stack.home),
        "BEACON_COLLECTOR_PORT": str(beacon_stack.collector_port),
    }
    signed = subprocess.run(
        [str(ROOT / "beacon"), "email", "sign", "--site", registered_site.site_id, "--campaign", "newsletter-48",
         "--message", "send-7", "--recipient", recipient, "--url", "https://shop.example/new"],
        env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    links = dict(line.split(None, 1) for line in signed.stdout.splitlines() if line.strip())
    assert httpx.get(links["open"].removeprefix("pixel").strip()).content == TRANSPARENT_GIF
    assert httpx.get(links["click"].strip()).headers["location"] == "https://shop.example/new"
    sql = "SELECT event_name FROM beacon.events FINAL WHERE user_id = {r:String} ORDER BY event_name"
    wait_until(
        lambda: rows(clickhouse, sql, r=recipient) == [("email_clicked",), ("email_opened",), ("email_sent",)],
        what="sent, opened and clicked",
    )
