"""Email figures in the stream (pure): who fetched, machine opens and clicks classified, conversions by last
touch, and figures that depend on the events alone, not on their order or repeats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event, HitSource, MailFetcher
from stream_processors.email.email_deliveries import EmailRules, PersonEmail, all_figures, track_email
from stream_processors.enrich.mail_fetchers import mail_fetcher_of
from stream_processors.people.person_state import PersonState, decode_person_state, encode_person_state

SENT_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RULES = EmailRules()
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def _email(seconds: float, name: str, fetcher: MailFetcher = MailFetcher.MAIL_CLIENT, *, url: str = "",
           message: str = "m-1", revenue: str = "") -> Event:  # fmt: skip
    moment = SENT_AT + timedelta(seconds=seconds)
    properties = {"campaign_id": "autumn", "message_id": message, "recipient_id": "u-1"}
    if revenue:
        properties = {"revenue": revenue}
    return Event(
        event_id=uuid.uuid4(), site_id="shop", event_name=name, event_time=moment, received_at=moment,
        anonymous_id="", user_id="u-1", url=url, referrer="", user_agent="", ip="", properties=properties,
        source=HitSource.EMAIL, mail_fetcher=fetcher if name != "email_sent" else MailFetcher.NONE,
    )  # fmt: skip


def _run(events: list[Event]) -> tuple[PersonEmail, list]:
    state, emitted = PersonState(), []
    for event in events:
        email, deliveries = track_email(state.email, event, RULES, NOW)
        state = decode_person_state(encode_person_state(PersonState(email=email)))  # as the changelog would
        emitted += deliveries
    return state.email, emitted


@pytest.mark.parametrize(
    ("user_agent", "network", "is_bot", "fetcher"),
    [
        ("Mozilla/5.0", "", False, MailFetcher.APPLE_PRIVACY_PROXY),
        (CHROME, "APPLE-ENGINEERING", False, MailFetcher.APPLE_PRIVACY_PROXY),
        (GMAIL, "GOOGLE", False, MailFetcher.GMAIL_IMAGE_PROXY),
        ("Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)",
         "YAHOO-GQ1", False, MailFetcher.YAHOO_IMAGE_PROXY),
        (CHROME, "AMAZON-02", True, MailFetcher.SCANNER),
        (CHROME, "Deutsche Telekom AG", False, MailFetcher.MAIL_CLIENT),
    ],
)  # fmt: skip
def test_who_fetched(user_agent: str, network: str, is_bot: bool, fetcher: MailFetcher) -> None:
    assert mail_fetcher_of(user_agent, network, is_bot) is fetcher


def test_machine_opens_and_clicks_are_classified_not_dropped() -> None:
    events = [
        _email(0, "email_sent"),
        _email(3, "email_opened", MailFetcher.APPLE_PRIVACY_PROXY),
        _email(4, "email_clicked", url="https://shop.example/a"),  # a scanner: 4 s after the send
        _email(600, "email_opened", MailFetcher.GMAIL_IMAGE_PROXY),  # the person opens in Gmail
        _email(900, "email_opened", MailFetcher.GMAIL_IMAGE_PROXY),  # the proxy again
        _email(1200, "email_clicked", MailFetcher.SCANNER, url="https://shop.example/a"),
        _email(1500, "email_clicked", url="https://shop.example/a"),  # the person
        _email(3000, "email_clicked", url="https://shop.example/a"),  # all links at once: a scanner's burst
        _email(3000.5, "email_clicked", url="https://shop.example/b"),
        _email(3001, "email_clicked", url="https://shop.example/c"),
    ]
    _, deliveries = _run(events)
    last = deliveries[-1]
    assert (last.opens, last.human_opens, last.clicks, last.human_clicks) == (3, 1, 6, 1)
    assert last.machine_reasons == [
        "apple_privacy_proxy", "click_burst", "proxy_refetch", "scanner_network", "too_soon_after_send",
    ]  # fmt: skip
    assert last.first_open_at == SENT_AT + timedelta(seconds=3)
    assert last.first_human_open_at == SENT_AT + timedelta(seconds=600)
    assert last.first_human_click_at == SENT_AT + timedelta(seconds=1500)
    assert (last.opened, last.human_opened, last.human_clicked) == (True, True, True)
    assert [delivery.version for delivery in deliveries] == list(range(1, len(deliveries) + 1))


def test_a_late_send_reclassifies_an_open_made_too_soon_after_it() -> None:
    _, deliveries = _run([_email(5, "email_opened"), _email(0, "email_sent")])
    assert (deliveries[0].human_opens, deliveries[-1].human_opens) == (1, 0)
    assert deliveries[-1].machine_reasons == ["too_soon_after_send"]
    assert deliveries[-1].sent_at == SENT_AT


def test_a_purchase_converts_the_message_of_the_last_human_click_within_the_window() -> None:
    events = [
        _email(0, "email_sent", message="m-1"),
        _email(0, "email_sent", message="m-2"),
        _email(100, "email_clicked", url="https://shop.example/a", message="m-1"),
        _email(200, "email_clicked", url="https://shop.example/b", message="m-2"),
        _email(300, "Order Completed", revenue="40.5"),
        _email(8 * 86_400, "purchase", revenue="10"),  # more than 7 days after the last click: not the email's
    ]
    state, _ = _run(events)
    figures = all_figures(state, RULES)
    assert (figures[("autumn", "m-1")].conversions, figures[("autumn", "m-2")].conversions) == (0, 1)
    assert figures[("autumn", "m-2")].conversion_revenue == 40.5


NAMES = ["email_sent", "email_opened", "email_clicked", "purchase"]
FETCHERS = [MailFetcher.MAIL_CLIENT, MailFetcher.GMAIL_IMAGE_PROXY, MailFetcher.APPLE_PRIVACY_PROXY]


@settings(max_examples=300, deadline=None)
@given(
    touches=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(NAMES), st.sampled_from(FETCHERS), st.sampled_from("abc"),
                  st.sampled_from(["m-1", "m-2"])),
        max_size=14,
    ),
    data=st.data(),
)  # fmt: skip
def test_any_delivery_order_with_duplicates_gives_the_figures_of_all_events_at_once(
    touches: list[tuple[int, str, MailFetcher, str, str]], data: st.DataObject
) -> None:
    events = [
        _email(seconds, name, fetcher, url=f"https://shop.example/{link}", message=message, revenue="5")
        if name == "purchase"
        else _email(seconds, name, fetcher, url=f"https://shop.example/{link}", message=message)
        for seconds, name, fetcher, link, message in touches
    ]
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    in_order, _ = _run(sorted(events, key=lambda event: event.event_time))
    shuffled, emitted = _run(data.draw(st.permutations(events + duplicates)))
    assert all_figures(shuffled, RULES) == all_figures(in_order, RULES)
    final = {(delivery.campaign_id, delivery.message_id): delivery for delivery in emitted}
    for message_id, figures in all_figures(shuffled, RULES).items():
        assert final[message_id].human_opens == figures.human_opens
        assert final[message_id].conversions == figures.conversions
