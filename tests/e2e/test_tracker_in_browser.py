"""The website tracker in real headless Chromium against the running stack, asserted by SQL in ClickHouse.

Each test's pages come from a small HTTP server of the test's own on ``127.0.0.1:<port>`` (a site registered
for that origin, one per test), while ``beacon.js`` and every event go to the real collector on another origin,
so CORS, cookies and ``sendBeacon`` behave as on a customer's site. (Pages answered by Playwright's routing would
not do: Chromium treats them as public, and its Local Network Access checks then refuse the collector on
loopback.) One browser is shared; each test has its own context (fresh cookies and storage).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Route

from collector.tracker_script import IMMUTABLE
from stack.ephemeral import free_port
from stack.settings import StackSettings
from tests.support.polling import wait_until
from tests.support.sites import register_site

ROW_TIMEOUT_SECONDS = 30


class PageServer(ThreadingHTTPServer):
    """Serves the current test's pages by path (any unknown path gets the first); ``.pdf`` answers 204."""

    pages: dict[str, str]


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith(".pdf"):  # a download the browser does not navigate to
            self.send_response(204)
            self.end_headers()
            return
        body = self.server.pages.get(path, next(iter(self.server.pages.values()), "")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    server = PageServer(("127.0.0.1", free_port()), PageHandler)
    server.pages = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass
class TrackedSite:
    """A site registered for the test pages' origin, a browser context, and what went to the collector."""

    site_id: str
    origin: str  # of the site's pages
    server: PageServer
    context: BrowserContext
    collector_url: str
    clickhouse: Client
    requests: list[Request]
    errors: list[str]

    def serve(self, html_by_path: dict[str, str]) -> None:
        """The site's pages, by path; any other path gets the first one."""
        self.server.pages = html_by_path

    def page(self, path: str = "/", **goto: Any) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.goto(f"{self.origin}{path}", **goto)
        page.wait_for_function("() => window.beacon && window.beacon.loaded")
        return page

    def snippet(self, *attributes: str, queued: str = "") -> str:
        """The copy-paste snippet for this site, with extra data- attributes and calls made before it loads."""
        return (
            "<script>window.beacon=window.beacon||function(){(beacon.q=beacon.q||[]).push(arguments)};"
            f"{queued}</script>"
            f'<script defer src="{self.collector_url}/beacon.js" data-site="{self.site_id}" '
            f"{' '.join(attributes)}></script>"
        )

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        result = self.clickhouse.query(sql, parameters={"site": self.site_id, **parameters})
        return [tuple(row) for row in result.result_rows]

    def wait_for_rows(self, sql: str, count: int, **parameters: Any) -> list[tuple[Any, ...]]:
        """The rows once there are ``count`` of them (and still ``count`` a moment later: none extra)."""
        wait_until(lambda: len(self.rows(sql, **parameters)) >= count, what=sql, timeout_seconds=ROW_TIMEOUT_SECONDS)
        time.sleep(1.5)  # a writer batch later: anything extra would be there now
        rows = self.rows(sql, **parameters)
        assert len(rows) == count, rows
        return rows

    def anonymous_id(self) -> str:
        return next(cookie["value"] for cookie in self.context.cookies() if cookie["name"] == "beacon_id")


@pytest.fixture
def site(
    browser: Browser, page_server: PageServer, beacon_stack: StackSettings, clickhouse: Client
) -> Iterator[TrackedSite]:
    host = f"127.0.0.1:{page_server.server_address[1]}"
    # Playwright's sync API runs an event loop in this thread; registering a site runs its own, so elsewhere.
    with ThreadPoolExecutor(1) as thread:
        registered = thread.submit(register_site, beacon_stack, prefix="tracker", domains=(host,)).result()
    context = browser.new_context()
    requests: list[Request] = []
    context.on("request", lambda request: requests.append(request) if "/api/" in request.url else None)
    tracked = TrackedSite(
        registered.site_id, f"http://{host}", page_server, context, beacon_stack.collector_url, clickhouse, requests, []
    )
    yield tracked
    context.close()
    assert tracked.errors == []


def wait_for_equal(actual: Callable[[], object], expected: object, what: str) -> None:
    """Wait until ``actual()`` is ``expected``; on time-out, fail with both."""
    try:
        wait_until(lambda: actual() == expected, what=what, timeout_seconds=ROW_TIMEOUT_SECONDS)
    except AssertionError:
        assert actual() == expected, what


def wait_in_browser(page: Page, condition: Callable[[], bool], what: str, timeout_seconds: float = 20) -> None:
    """Wait while the browser works: Playwright's sync API runs route handlers only inside its own calls."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_seconds:.0f} s waiting for {what}"
        page.wait_for_timeout(200)


def page_html(snippet: str, body: str = "", title: str = "Shop") -> str:
    return f"<!doctype html><html><head><title>{title}</title><link rel=icon href='data:,'>{snippet}</head>" \
        f"<body>{body}</body></html>"  # fmt: skip


# The browser's events (register_site's probe comes through the Segment API).
PAGE_EVENTS = "('page_view', 'page_ping')"
EVENTS = (
    "SELECT {columns} FROM beacon.events FINAL WHERE site_id = {{site:String}} AND source = 'browser' {where}"
    " ORDER BY event_time"
)


def events(columns: str, where: str = "AND event_name != 'page_ping'") -> str:
    """A query of the site's browser events; without page pings unless ``where`` says otherwise (a ping arrives
    whenever a slow test outlasts the ping interval)."""
    return EVENTS.format(columns=columns, where=where)


def test_first_page_view_carries_the_landing_url_referrer_and_campaign(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet(), title="Spring sale")})
    landing = "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&gclid=g-1"
    site.page(landing, referer="https://search.example/q")
    [row] = site.wait_for_rows(
        events(
            "event_name, url, referrer, anonymous_id, utm_source, utm_medium, utm_campaign, click_id_type, "
            "properties['page_view_id'] = toString(event_id), properties['title'], source, consent"
        ),
        1,
    )
    assert row == (
        "page_view", f"{site.origin}{landing}", "https://search.example/q", site.anonymous_id(),
        "newsletter", "email", "spring", "gclid", True, "Spring sale", "browser", "unknown",
    )  # fmt: skip
    # The script the page loaded, as the collector serves it: revalidated by ETag, and under its version for good.
    served = httpx.get(f"{site.collector_url}/beacon.js")
    assert served.headers["cache-control"] == "public, max-age=300"
    unchanged = httpx.get(f"{site.collector_url}/beacon.js", headers={"If-None-Match": served.headers["etag"]})
    assert unchanged.status_code == 304
    versioned = httpx.get(f"{site.collector_url}/beacon.{served.headers['etag'].strip(chr(34))}.js")
    assert (versioned.content, versioned.headers["cache-control"]) == (served.content, IMMUTABLE)


ROUTER = """<a id=pricing href=/pricing>Pricing</a><script>
document.addEventListener('click', (event) => {
  if (event.target.id == 'pricing') { event.preventDefault(); history.pushState({}, '', '/pricing') }
})</script>"""


def test_single_page_navigation_makes_page_views_in_one_attributed_session(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet(), ROUTER)})
    page = site.page("/?utm_source=ads&utm_medium=cpc&utm_campaign=spring")
    page.click("#pricing")  # pushState from the page's own router
    page.evaluate("history.replaceState({tab: 2}, '', '/pricing')")  # the same page: no page view
    page.evaluate("history.pushState({}, '', '/pricing#faq')")  # a hash without data-hash: no page view
    page.go_back()
    page.go_back()  # popstate back to the landing page
    landing = f"{site.origin}/?utm_source=ads&utm_medium=cpc&utm_campaign=spring"
    rows = site.wait_for_rows(
        events("url, referrer, utm_campaign, properties['utm_campaign']", "AND event_name = 'page_view'"), 3
    )
    assert rows == [
        (landing, "", "spring", "spring"),
        (f"{site.origin}/pricing", landing, "", "spring"),  # the landing's campaign, kept as properties
        (landing, f"{site.origin}/pricing", "spring", "spring"),
    ]
    sessions = (  # page_views > 0: not the session of register_site's probe
        "SELECT page_views, utm_campaign, channel FROM beacon.sessions FINAL"
        " WHERE site_id = {site:String} AND sign = 1 AND page_views > 0"
    )
    wait_for_equal(lambda: site.rows(sessions), [(3, "spring", "paid")], "one paid session of three page views")


LINKS = """<p><a id=out href="https://partner.example/offer">Partner</a>
<a id=inside href="/about">About</a> <a id=pdf href="/files/prices.pdf">Prices</a>
<button id=add data-beacon-event=add_to_cart data-beacon-prop-sku=A-1 data-beacon-prop-colour=red>
<span id=label>Add</span></button></p>"""


def test_outbound_and_download_clicks(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet(), LINKS)})
    page = site.page()
    site.context.route("https://partner.example/**", lambda route: route.fulfill(body="<title>partner</title>"))
    page.click("#pdf")
    page.click("#inside")  # within the site: not an event
    page.wait_for_url(f"{site.origin}/about")
    page.wait_for_function("() => window.beacon && window.beacon.loaded")
    page.click("#out")  # the page unloads right away: the event leaves with a beacon
    page.wait_for_url("https://partner.example/offer")
    rows = site.wait_for_rows(events("event_name, url, properties['href']", f"AND event_name NOT IN {PAGE_EVENTS}"), 2)
    assert rows == [
        ("file_download", f"{site.origin}/", f"{site.origin}/files/prices.pdf"),
        ("outbound_click", f"{site.origin}/about", "https://partner.example/offer"),
    ]


def test_a_click_on_a_data_beacon_event_element(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet(), LINKS)})
    page = site.page()
    page.click("#label")  # inside the tagged button
    [row] = site.wait_for_rows(events("event_name, properties", "AND event_name = 'add_to_cart'"), 1)
    assert row[0] == "add_to_cart"
    assert {name: row[1][name] for name in ("sku", "colour")} == {"sku": "A-1", "colour": "red"}
    assert row[1]["page_view_id"]


def test_engaged_time_and_scroll_depth_arrive_as_page_pings(site: TrackedSite) -> None:
    long_page = page_html(site.snippet("data-ping-seconds=1"), "<div style='height: 5000px'>Read on</div>")
    site.serve({"/": long_page})
    started = time.monotonic()  # engaged time counts from the script's start, within site.page()
    page = site.page()
    for step in range(12):  # an active reader, scrolling to the bottom within 3 s
        page.mouse.move(100 + step * 10, 200)
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(250)
    page.wait_for_timeout(1500)
    page.goto("about:blank")  # pagehide: the final ping
    elapsed_ms = (time.monotonic() - started) * 1000
    view_id = site.wait_for_rows(events("toString(event_id)", "AND event_name = 'page_view'"), 1)[0][0]
    pings_sql = events(
        "toInt64(properties['engaged_ms']), toInt64(properties['scroll_depth']), properties['page_view_id']",
        "AND event_name = 'page_ping'",
    )
    wait_until(lambda: len(site.rows(pings_sql)) >= 3, what="periodic and final page pings")
    time.sleep(1.5)
    pings = site.rows(pings_sql)
    engaged = sum(ping[0] for ping in pings)
    assert 2500 <= engaged <= elapsed_ms, pings
    assert all(ping[0] > 0 and ping[2] == view_id for ping in pings), pings
    assert [ping[1] for ping in pings] == sorted(ping[1] for ping in pings)  # the deepest scroll so far
    assert pings[-1][1] == 100
    sessions = (
        "SELECT engaged_ms FROM beacon.sessions FINAL WHERE site_id = {site:String} AND sign = 1 AND page_views > 0"
    )
    wait_for_equal(lambda: site.rows(sessions), [(engaged,)], "the session's engaged time: the pings' sum")


def test_identify_then_track_carries_the_user_id(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet())})
    page = site.page()
    page.evaluate("beacon('identify', 'user-42', {plan: 'pro'})")
    page.wait_for_timeout(50)  # so that the two events are ordered in time, not only in the queue
    page.evaluate("beacon('track', 'signup', {source: 'footer'})")
    anonymous_id = site.anonymous_id()
    rows = site.wait_for_rows(events("event_name, anonymous_id, user_id, properties['plan']"), 3)
    assert rows == [
        ("page_view", anonymous_id, "", ""),
        ("identify", anonymous_id, "user-42", "pro"),
        ("signup", anonymous_id, "user-42", ""),
    ]
    identities = "SELECT user_id FROM beacon.identities FINAL WHERE site_id = {site:String} AND identifier = {a:String}"
    wait_until(lambda: site.rows(identities, a=anonymous_id) == [("user-42",)], what="the identity link")


def test_consent_denied_sends_and_stores_nothing(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet(queued="beacon('consent','denied');"), LINKS)})
    page = site.page()
    page.evaluate("beacon('track', 'ignored'); beacon('identify', 'user-1')")
    page.click("#label")
    page.wait_for_timeout(2500)
    page.reload()  # pagehide, and a second page load still denied
    page.wait_for_function("() => window.beacon && window.beacon.loaded")
    page.wait_for_timeout(1500)
    assert site.requests == []
    assert site.context.cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert site.rows(events("event_name", where="")) == []  # not even a ping
    page.evaluate("beacon('consent', 'granted'); beacon('track', 'after_consent')")  # the same page, now allowed
    assert site.wait_for_rows(events("event_name, consent"), 1) == [("after_consent", "granted")]


def test_an_offline_period_is_delivered_after_recovery_without_duplicates(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet("data-ping-seconds=600"), ROUTER), "/next": page_html(site.snippet())})
    page = site.page()
    site.wait_for_rows(events("event_name"), 1)  # online: the page view arrived
    blocked: list[str] = []

    def refuse(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort("internetdisconnected")

    site.context.route(f"{site.collector_url}/api/**", refuse)
    page.evaluate("for (const n of [1, 2, 3]) beacon('track', 'offline_' + n)")
    wait_in_browser(page, lambda: len(blocked) >= 2, "a retry refused too")
    page.goto(f"{site.origin}/next")  # a new page load while offline: the queue is kept in localStorage
    page.wait_for_function("() => window.beacon && window.beacon.loaded")
    page.evaluate("beacon('track', 'offline_4')")
    refused_before = len(blocked)
    wait_in_browser(page, lambda: len(blocked) > refused_before, "the second page's attempt refused")
    site.context.unroute(f"{site.collector_url}/api/**")
    expected = ["page_view", "offline_1", "offline_2", "offline_3", "page_view", "offline_4"]
    rows = site.wait_for_rows(events("event_name"), len(expected))
    assert sorted(row[0] for row in rows) == sorted(expected)
    raw = "SELECT count() = uniqExact(event_id) FROM beacon.events WHERE site_id = {site:String} AND source = 'browser'"
    assert site.rows(raw) == [(True,)]  # not even a duplicate waiting for a merge


def test_cookieless_mode_stores_nothing_in_the_browser(site: TrackedSite) -> None:
    site.serve({"/": page_html(site.snippet("data-cookieless"), ROUTER)})
    page = site.page()
    page.click("#pricing")
    page.evaluate("beacon('identify', 'user-7'); beacon('track', 'signup')")
    rows = site.wait_for_rows(events("event_name, anonymous_id, user_id, visitor_hash != ''"), 4)
    assert sorted(rows) == [
        ("identify", "", "user-7", 0),  # a user id needs no hash
        ("page_view", "", "", 1),  # the server's daily-rotating visitor hash instead of an id
        ("page_view", "", "", 1),
        ("signup", "", "user-7", 0),
    ]
    assert site.context.cookies() == []
    assert page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]") == [0, 0, ""]


def console_errors(page: Page) -> list[str]:
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            found.append(f"{message.type}: {message.text}")

    page.on("console", note)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def test_the_demo_shop_loads_and_tracks_without_console_errors(
    browser: Browser, beacon_stack: StackSettings, clickhouse: Client
) -> None:
    context = browser.new_context()
    page = context.new_page()
    found = console_errors(page)
    context.route("https://github.com/**", lambda route: route.fulfill(body="<title>elsewhere</title>"))
    page.goto(f"{beacon_stack.collector_url}/demo")
    page.wait_for_function("() => window.beacon && window.beacon.loaded")
    page.click("text=Beacon mug")
    page.click("text=Add to cart")
    page.click("text=Cart (1)")
    page.click("#buy")
    page.click("#chat-open")
    page.fill("#chat-input", "Where is my order?")
    page.press("#chat-input", "Enter")
    page.wait_for_selector("li.bot")
    page.click("#chat-rating button[value='5']")
    page.click("#chat-close")
    page.click("#outbound")
    page.wait_for_url("https://github.com/**")
    anonymous_id = next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "beacon_id")
    sql = (
        "SELECT event_name, url FROM beacon.events FINAL WHERE site_id = 'demo' AND anonymous_id = {a:String} "
        "AND event_name != 'page_ping' ORDER BY event_time, event_name"
    )  # (a product page's page view and product view can share a millisecond: the name orders them as expected)
    expected = [
        ("page_view", "/demo"), ("page_view", "/demo/product/MUG-1"), ("product_viewed", "/demo/product/MUG-1"),
        ("add_to_cart", "/demo/product/MUG-1"), ("page_view", "/demo/cart"), ("purchase", "/demo/cart"),
        ("page_view", "/demo/thanks"), ("chat_conversation_started", "/demo/thanks"),
        ("chat_message_sent", "/demo/thanks"), ("chat_message_received", "/demo/thanks"),
        ("chat_rated", "/demo/thanks"), ("chat_conversation_ended", "/demo/thanks"),
        ("outbound_click", "/demo/thanks"),
    ]  # fmt: skip

    def stored() -> list[tuple[str, str]]:
        rows = clickhouse.query(sql, parameters={"a": anonymous_id}).result_rows
        return [(name, url.removeprefix(beacon_stack.collector_url)) for name, url in rows]

    # The browser stays open until then: the last events leave on pagehide, as the shop navigates away.
    wait_for_equal(stored, expected, "the demo shop's events")
    context.close()
    assert found == []
    purchase = (
        "SELECT properties['revenue'], properties['currency'], JSONLength(properties['items']) FROM beacon.events"
        " FINAL WHERE site_id = 'demo' AND anonymous_id = {a:String} AND event_name = 'purchase'"
    )
    assert clickhouse.query(purchase, parameters={"a": anonymous_id}).result_rows == [("12", "EUR", 1)]
