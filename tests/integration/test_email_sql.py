"""The email report's SQL (what analysts run, and what the end-to-end test compares the stream with) gives the
figures the stream computes, on random email traffic stored in the real warehouse."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.events import Event, HitSource, MailFetcher
from schemas.warehouse_rows import EVENTS_TABLE
from stream_processors.email.email_deliveries import EmailRules, PersonEmail, all_figures, track_email
from stream_processors.email.email_sql import email_deliveries_sql

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
RULES = EmailRules()
FETCHERS = list(MailFetcher)[1:]


def _random_events(rng: random.Random, site_id: str, recipient: str) -> list[Event]:
    events = []
    used: set[int] = set()
    for _ in range(rng.randint(1, 25)):
        name = rng.choice(["email_sent", "email_opened", "email_opened", "email_clicked", "email_clicked", "purchase"])
        offset_ms = rng.choice([rng.randint(0, 30_000), rng.randint(0, 10 * 86_400_000)])
        while offset_ms in used:  # (distinct times: the last click before a purchase is then unambiguous)
            offset_ms += 1
        used.add(offset_ms)
        moment = START + timedelta(milliseconds=offset_ms)
        message = rng.choice(["m-1", "m-2"])
        properties = {"campaign_id": "c", "message_id": message, "recipient_id": recipient}
        if name == "purchase":
            properties = {"revenue": str(rng.choice([10, 19.99, 5.5]))}
        events.append(
            Event(
                event_id=uuid.uuid4(), site_id=site_id, event_name=name, event_time=moment, received_at=moment,
                anonymous_id="", user_id=recipient, url=f"https://shop.example/{rng.choice('abcd')}", referrer="",
                user_agent="", ip="", properties=properties, source=HitSource.EMAIL,
                mail_fetcher=rng.choice(FETCHERS) if name.startswith("email_o") or name == "email_clicked" else "",
            )
        )  # fmt: skip
    return events


def test_the_sql_gives_the_stream_figures(clickhouse: Client) -> None:
    rng = random.Random(7)
    site_id = f"email-sql-{uuid.uuid4().hex[:8]}"
    expected = {}
    rows = []
    for number in range(150):
        recipient = f"u-{number}"
        events = _random_events(rng, site_id, recipient)
        state = PersonEmail()
        for event in events:
            state, _ = track_email(state, event, RULES, START)
        for (campaign_id, message_id), figures in all_figures(state, RULES).items():
            expected[(campaign_id, message_id, recipient)] = figures
        rows += [tuple(getattr(event, column) for column in EVENTS_TABLE.columns) for event in events]
    clickhouse.insert(EVENTS_TABLE.table, rows, column_names=list(EVENTS_TABLE.columns))

    result = clickhouse.query(email_deliveries_sql(site_id, RULES))
    found = {}
    for row in result.named_results():
        found[(row["campaign_id"], row["message_id"], row["recipient_id"])] = row
    assert found.keys() == expected.keys()
    for key, figures in expected.items():
        row = found[key]
        assert (row["opens"], row["human_opens"], row["clicks"], row["human_clicks"]) == (
            figures.opens, figures.human_opens, figures.clicks, figures.human_clicks,
        ), key  # fmt: skip
        assert tuple(row["machine_reasons"]) == figures.machine_reasons, key
        assert (row["conversions"], round(row["conversion_revenue"], 4)) == (
            figures.conversions, round(figures.conversion_revenue, 4),
        ), key  # fmt: skip
        assert _ms(row["sent_at"]) == figures.sent_ms, key
        assert _ms(row["first_human_open_at"]) == figures.first_human_open_ms, key
        assert _ms(row["first_human_click_at"]) == figures.first_human_click_ms, key
    assert sum(figures.conversions for figures in expected.values()) > 5, "the traffic converts sometimes"
    assert sum(figures.human_opens < figures.opens for figures in expected.values()) > 20


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)
