"""Every Beacon process logs JSON lines, and no log line holds a client's raw IP address or an email."""

from __future__ import annotations

import uuid

import httpx
import orjson
from clickhouse_connect.driver.client import Client

from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import RegisteredSite

CLIENT_IP = "198.51.100.77"  # sent as X-Forwarded-For, which the collector trusts from loopback
SERVER_SIDE_IP = "198.51.100.78"  # a Segment message's context.ip
EMAIL = "jane.doe.logcheck@example.com"


def test_logs_are_json_lines_without_raw_ips_or_emails(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> None:
    marker = uuid.uuid4().hex
    forwarded = {"X-Forwarded-For": CLIENT_IP}
    collector = httpx.Client(base_url=beacon_stack.collector_url, timeout=10)
    pixel = {"site": registered_site.site_id, "url": "https://shop.example/", "p.marker": marker, "uid": EMAIL}
    assert collector.get("/p.gif", params=pixel, headers=forwarded).status_code == 200
    assert collector.get("/p.gif", params={**pixel, "eid": "not-a-uuid"}, headers=forwarded).status_code == 200
    message = {"type": "track", "event": "Logged", "userId": EMAIL, "properties": {"marker": marker},
               "context": {"ip": SERVER_SIDE_IP}}  # fmt: skip
    answer = collector.post("/v1/track", json=message, auth=(registered_site.write_key, ""), headers=forwarded)
    assert answer.status_code == 200
    refused = collector.post("/v1/track", content=f"{{{EMAIL}", auth=("bk_wrong", ""), headers=forwarded)
    assert refused.status_code == 400  # not JSON: refused before the key is even read

    sql = "SELECT count() FROM beacon.events WHERE properties['marker'] = {m:String}"
    wait_until(lambda: clickhouse.query(sql, parameters={"m": marker}).result_rows[0][0] == 2, what="both events")

    logs = sorted((beacon_stack.home / "logs").glob("*.log"))
    assert {path.stem for path in logs} >= {"collector", "stream", "writer", "webhooks"}
    for path in logs:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            where = f"{path.name}:{number}"
            assert isinstance(orjson.loads(line), dict), where
            for secret in (CLIENT_IP, SERVER_SIDE_IP, EMAIL):
                assert secret not in line, f"{secret} in {where}: {line[:300]}"
