"""The enrich pipeline: user agents, bots, geolocation, referrers, campaign tags, channels, visitor hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import geoip2fast.geoip2fast
import pytest
from crawlerdetect import CrawlerDetect
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from runtime.settings import SettingsError
from schemas.events import BotReason, Channel, DeviceType, Event, HitSource, RawHit
from stream_processors.enrich.bots import is_crawler, user_agent_bot_reason
from stream_processors.enrich.campaigns import campaign_tags
from stream_processors.enrich.context import EnrichContext, load_enrich_context
from stream_processors.enrich.hosting_networks import HOSTING_NETWORKS
from stream_processors.enrich.ip_lookup import BundledIpLookup, IpFacts, MaxMindIpLookup, bundled_ip_lookup
from stream_processors.enrich.pipeline import enrich_event
from stream_processors.enrich.referrers import KnownReferrer, ReferrerList, known_referrer, referrer_host
from stream_processors.normalize.pipeline import normalize_hit
from stream_processors.settings import StreamWorkerSettings

RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
SECRET = b"a test secret of 32 bytes, fixed"
PUBLIC_GB_IP = "81.2.69.142"
AWS_IP = "52.95.110.1"

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
    "Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 "
    "Mobile Safari/537.36"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36"
)
GMAIL_IMAGE_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.fixture(scope="module")
def context() -> EnrichContext:
    return EnrichContext(ip_lookup=bundled_ip_lookup(), referrers=ReferrerList.load(), visitor_salt_secret=SECRET)


def pixel_hit(
    *,
    user_agent: str = CHROME_WINDOWS,
    ip: str = PUBLIC_GB_IP,
    url: str = "https://shop.example/p/1",
    referrer: str = "",
    anonymous_id: str = "anon-1",
    site_id: str = "shop",
    received_at: datetime = RECEIVED,
    source: HitSource = HitSource.PIXEL,
) -> RawHit:
    query = {"site": site_id, "url": url, "ref": referrer, "aid": anonymous_id}
    return RawHit(
        hit_id=UUID("00000000-0000-4000-8000-000000000001"),
        source=source,
        received_at=received_at,
        site_id=site_id,
        query={name: value for name, value in query.items() if value},
        ip=ip,
        user_agent=user_agent,
        referer="",
    )


def segment_hit(*, request_user_agent: str, context: dict[str, Any], request_ip: str = AWS_IP) -> RawHit:
    message = {"type": "track", "event": "Order Completed", "userId": "user-1", "context": context}
    return RawHit(
        hit_id=UUID("00000000-0000-4000-8000-000000000002"),
        source=HitSource.SEGMENT,
        received_at=RECEIVED,
        site_id="shop",
        body=json.dumps(message),
        ip=request_ip,
        user_agent=request_user_agent,
        referer="",
    )


def email_hit(*, user_agent: str, kind: str = "open") -> RawHit:
    interaction = {"kind": kind, "site_id": "shop", "campaign_id": "c1", "message_id": "m1", "recipient_id": "r1"}
    if kind == "click":
        interaction["url"] = "https://shop.example/sale"
    return RawHit(
        hit_id=UUID("00000000-0000-4000-8000-000000000003"),
        source=HitSource.EMAIL,
        received_at=RECEIVED,
        site_id="shop",
        body=json.dumps(interaction),
        ip=PUBLIC_GB_IP,
        user_agent=user_agent,
        referer="",
    )


def enriched(hit: RawHit, context: EnrichContext) -> Event:
    event = normalize_hit(hit)
    assert isinstance(event, Event), event
    with capture_logs() as logs:
        result = enrich_event(event, hit, context)
    assert not logs, logs
    return result


# --- user agents ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "browser", "browser_version", "os", "os_version", "device_type"),
    [
        (CHROME_WINDOWS, "Chrome", "124.0", "Windows", "10", DeviceType.DESKTOP),
        (SAFARI_IPHONE, "Mobile Safari", "17.4", "iOS", "17.4", DeviceType.MOBILE),
        (SAFARI_IPAD, "Mobile Safari", "16.6", "iOS", "16.6", DeviceType.TABLET),
        (CHROME_ANDROID_PHONE, "Chrome Mobile", "124.0", "Android", "14", DeviceType.MOBILE),
        (CHROME_ANDROID_TABLET, "Chrome", "124.0", "Android", "13", DeviceType.TABLET),
        (FIREFOX_LINUX, "Firefox", "125.0", "Ubuntu", "", DeviceType.DESKTOP),
        ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 SamsungBrowser/4.0", "Samsung Internet", "4.0",
         "Tizen", "6.0", DeviceType.OTHER),
        ("something nobody knows", "", "", "", "", DeviceType.OTHER),
    ],
)  # fmt: skip
def test_browser_os_and_device_type_are_read_from_the_user_agent(
    context: EnrichContext,
    user_agent: str,
    browser: str,
    browser_version: str,
    os: str,
    os_version: str,
    device_type: DeviceType,
) -> None:
    event = enriched(pixel_hit(user_agent=user_agent), context)
    assert (event.browser, event.browser_version, event.os, event.os_version) == (
        browser,
        browser_version,
        os,
        os_version,
    )
    assert event.device_type is device_type
    assert not event.is_bot


# --- bots --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [
        (GOOGLEBOT, BotReason.CRAWLER_USER_AGENT),
        (BINGBOT, BotReason.CRAWLER_USER_AGENT),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", BotReason.CRAWLER_USER_AGENT),
        (HEADLESS_CHROME, BotReason.HEADLESS_BROWSER),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
         BotReason.HEADLESS_BROWSER),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
         "Electron/28.0.0 Safari/537.36", BotReason.HEADLESS_BROWSER),
        ("curl/8.5.0", BotReason.AUTOMATION_TOOL),
        ("python-requests/2.31.0", BotReason.AUTOMATION_TOOL),
        ("Go-http-client/1.1", BotReason.AUTOMATION_TOOL),
        ("Wget/1.21.4", BotReason.AUTOMATION_TOOL),
        ("", BotReason.EMPTY_USER_AGENT),
        ("   ", BotReason.EMPTY_USER_AGENT),
    ],
)  # fmt: skip
def test_bots_are_flagged_with_their_reason_and_never_dropped(
    context: EnrichContext, user_agent: str, reason: BotReason
) -> None:
    event = enriched(pixel_hit(user_agent=user_agent), context)
    assert event.is_bot
    assert event.bot_reason is reason
    assert event.device_type is DeviceType.BOT


@pytest.mark.parametrize(
    "user_agent",
    [CHROME_WINDOWS, SAFARI_IPHONE, GOOGLEBOT, BINGBOT, GMAIL_IMAGE_PROXY, "Mozilla/5.0 (compatible; YandexBot/3.0)",
     "YandexSearch/1.0 (iPhone; iOS 17)", "Mozilla/5.0 (Linux; Android 13) YaBrowser/24.1 Yandex", "x" * 900, "Ruby"],
)  # fmt: skip
def test_crawlers_are_matched_as_crawlerdetect_matches_them(user_agent: str) -> None:
    """Its patterns run on RE2 here; the verdicts are its own (all 169,370 of its test fixtures agree)."""
    assert is_crawler(user_agent) == CrawlerDetect().is_crawler(user_agent)


def test_an_electron_app_that_names_itself_is_a_person() -> None:
    vs_code = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.88.0 "
        "Chrome/118.0.5993.159 Electron/27.3.9 Safari/537.36"
    )
    assert user_agent_bot_reason(vs_code) is BotReason.NONE


def test_a_browser_api_event_from_an_http_library_is_an_automation_tool(context: EnrichContext) -> None:
    event = enriched(pixel_hit(user_agent="python-requests/2.31.0", source=HitSource.PIXEL), context)
    assert event.bot_reason is BotReason.AUTOMATION_TOOL


@pytest.mark.parametrize(
    "sdk_user_agent", ["analytics-python/2.3.4", "analytics-ruby/2.4.0", "python-requests/2.31.0", "Go-http-client/1.1"]
)
def test_server_side_events_sent_by_a_sites_back_end_are_not_bots(context: EnrichContext, sdk_user_agent: str) -> None:
    """The request comes from the site's own server (an SDK, or an HTTP library) on a cloud network."""
    event = enriched(segment_hit(request_user_agent=sdk_user_agent, context={}), context)
    assert event.user_agent == sdk_user_agent
    assert not event.is_bot
    assert event.bot_reason is BotReason.NONE
    assert event.device_type is DeviceType.OTHER


def test_a_server_side_event_keeps_the_forwarded_visitor_user_agent_and_ip(context: EnrichContext) -> None:
    hit = segment_hit(request_user_agent="analytics-python/2.3.4", context={"userAgent": GOOGLEBOT, "ip": "8.8.8.8"})
    event = enriched(hit, context)
    assert event.bot_reason is BotReason.CRAWLER_USER_AGENT
    assert event.country == "US"  # the forwarded address, not the back end's (AWS_IP)
    person = enriched(
        segment_hit(request_user_agent="analytics-python/2.3.4", context={"userAgent": SAFARI_IPHONE}), context
    )
    assert not person.is_bot
    assert person.device_type is DeviceType.MOBILE


def test_an_empty_user_agent_is_a_bot_sign_only_for_browser_sources(context: EnrichContext) -> None:
    assert enriched(pixel_hit(user_agent=""), context).bot_reason is BotReason.EMPTY_USER_AGENT
    event = enriched(segment_hit(request_user_agent="", context={}), context)
    assert not event.is_bot


def test_a_browser_on_a_cloud_network_is_flagged_but_a_back_end_there_is_not(context: EnrichContext) -> None:
    assert enriched(pixel_hit(ip=AWS_IP), context).bot_reason is BotReason.DATACENTER_IP
    assert not enriched(pixel_hit(ip="8.8.8.8"), context).is_bot  # Google's own network: not a rented server
    assert not enriched(segment_hit(request_user_agent="analytics-node/1.0", context={}), context).is_bot


def test_mail_image_proxies_opening_an_email_are_people_but_link_scanners_are_not(context: EnrichContext) -> None:
    assert not enriched(email_hit(user_agent=GMAIL_IMAGE_PROXY), context).is_bot
    scanner = enriched(email_hit(user_agent="curl/8.5.0", kind="click"), context)
    assert scanner.bot_reason is BotReason.AUTOMATION_TOOL


def test_every_hosting_network_is_spelled_as_the_bundled_data_spells_it() -> None:
    bundled_ip_lookup()
    names = set(geoip2fast.geoip2fast.mainListNamesASN)  # the loaded file's AS names (a module global)
    assert names >= HOSTING_NETWORKS, HOSTING_NETWORKS - names


# --- geolocation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        (PUBLIC_GB_IP, "GB"),
        ("1.1.1.1", "AU"),
        ("2001:4860:4860::8888", "US"),
        ("2a00:1450:4001:81c::200e", "DE"),
        ("::ffff:8.8.8.8", "US"),
        ("192.168.1.1", ""),
        ("10.0.0.1", ""),
        ("127.0.0.1", ""),
        ("100.64.0.1", ""),
        ("::1", ""),
        ("fe80::1", ""),
        ("", ""),
        ("not an ip", ""),
        ("999.1.1.1", ""),
        ("8.8.8.8\x00", ""),
    ],
)
def test_the_country_comes_from_the_full_ip(context: EnrichContext, ip: str, country: str) -> None:
    event = enriched(pixel_hit(ip=ip), context)
    assert event.country == country
    assert (event.region, event.city) == ("", "")  # the bundled data has countries only


def test_the_ip_is_looked_up_whole_but_stored_masked(context: EnrichContext) -> None:
    event = enriched(pixel_hit(ip=PUBLIC_GB_IP), context)
    assert event.ip == "81.2.69.0"
    assert event.country == "GB"


class FakeMaxMindReader:
    def __init__(self, records: dict[str, Any]) -> None:
        self.records = records

    def get(self, ip_address: str, /) -> Any:
        return self.records.get(ip_address)


def test_a_maxmind_city_database_adds_region_and_city() -> None:
    record = {
        "country": {"iso_code": "US"},
        "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
        "city": {"names": {"en": "Mountain View", "de": "Mountain View"}},
    }
    lookup = MaxMindIpLookup(
        FakeMaxMindReader({"8.8.8.8": record, "9.9.9.9": {"registered_country": {"iso_code": "CH"}}}),
        networks=lambda ip: IpFacts(network="GOOGLE"),
    )
    assert lookup("8.8.8.8") == IpFacts(country="US", region="US-CA", city="Mountain View", network="GOOGLE")
    assert lookup("::ffff:8.8.8.8") == lookup("8.8.8.8")
    assert lookup("9.9.9.9") == IpFacts(country="CH", network="GOOGLE")
    assert lookup("203.0.113.9") == IpFacts(network="GOOGLE")
    assert lookup("garbage") == IpFacts()


def test_the_bundled_lookup_reports_the_network() -> None:
    assert bundled_ip_lookup()(AWS_IP).network == "AMAZON-02"
    assert isinstance(bundled_ip_lookup(), BundledIpLookup)


# --- referrers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "medium", "source"),
    [
        ("https://www.google.com/", "search", "Google"),
        ("https://www.google.co.uk/search?q=shoes", "search", "Google"),
        ("https://www.bing.com/search?q=shoes", "search", "Bing"),
        ("https://duckduckgo.com/", "search", "DuckDuckGo"),
        ("https://www.facebook.com/", "social", "Facebook"),
        ("https://m.facebook.com/story.php", "social", "Facebook"),
        ("https://l.facebook.com/l.php?u=x", "social", "Facebook"),
        ("https://t.co/abc123", "social", "Twitter"),
        ("https://x.com/someone/status/1", "social", "Twitter"),
        ("https://www.linkedin.com/feed/", "social", "LinkedIn"),
        ("https://old.reddit.com/r/shoes/", "social", "reddit"),  # Matomo's list spells it so
        ("https://mail.google.com/mail/u/0/", "email", "Gmail"),
        ("android-app://com.google.android.gm/", "email", "Gmail"),
        ("https://support.google.com/", "unknown", "Google"),  # the host itself wins over its parent domain
        ("https://chatgpt.com/", "chatbot", "ChatGPT"),
        ("https://www.perplexity.ai/", "chatbot", "Perplexity"),  # also a search engine in Matomo's list
        ("https://www.googleadservices.com/pagead/aclk", "paid", "Google Ads"),
        # "{}" placeholders: a country code as the top-level domain (google.{}) or as a subdomain ({}.bing.com)
        ("https://www.google.de/", "search", "Google"),
        ("https://www.google.com.au/", "search", "Google"),
        ("https://uk.search.yahoo.com/search?p=shoes", "search", "Yahoo!"),
        ("https://mail.yandex.ua/", "email", "Yandex Mail"),
    ],
)
def test_the_maintained_referrer_list_knows_search_engines_and_social_networks(
    context: EnrichContext, referrer: str, medium: str, source: str
) -> None:
    assert known_referrer(context.referrers, referrer_host(referrer)) == KnownReferrer(medium, source)


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://WWW.Google.CO.UK:443/search", "www.google.co.uk"),
        ("https://example.com./", "example.com"),
        ("not a url", ""),
        ("http://[::1", ""),
        ("", ""),
    ],
)
def test_the_referrer_host_is_lower_case_without_port(referrer: str, host: str) -> None:
    assert referrer_host(referrer) == host


def test_an_unknown_host_is_not_in_the_list(context: EnrichContext) -> None:
    assert known_referrer(context.referrers, "blog.example") is None
    assert known_referrer(context.referrers, "com") is None
    assert known_referrer(context.referrers, "google.example") is None  # "{}" is a country code, not any name
    assert known_referrer(context.referrers, "google.com.evil.example") is None


# --- campaign tags -----------------------------------------------------------------------------------------


def test_utm_tags_are_kept_as_given_but_stripped() -> None:
    tags = campaign_tags(
        "utm_source=%20Newsletter%20&UTM_Medium=Email&utm_campaign=Black+Friday&utm_term=red%20shoes"
        "&utm_content=hero&utm_source=second"
    )
    assert tags.utm_source == "Newsletter"  # the first occurrence wins
    assert tags.utm_medium == "Email"
    assert tags.utm_campaign == "Black Friday"
    assert tags.utm_term == "red shoes"
    assert tags.utm_content == "hero"
    assert tags.click_id_type == ""


@pytest.mark.parametrize(
    ("query", "click_id_type"),
    [
        ("gclid=Cj0KCQ", "gclid"),
        ("msclkid=abc", "msclkid"),
        ("fbclid=IwAR", "fbclid"),
        ("ttclid=x&gclid=y", "gclid"),  # the first in CLICK_IDS order
        ("gclid=", ""),  # an empty one says nothing
        ("li_fat_id=1", "li_fat_id"),
        ("id=7", ""),
    ],
)
def test_the_click_id_type_names_the_ad_click_id_present(query: str, click_id_type: str) -> None:
    assert campaign_tags(query).click_id_type == click_id_type


# --- channels ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "referrer", "channel"),
    [
        ("https://shop.example/?gclid=Cj0KCQ", "https://www.google.com/", Channel.PAID),
        ("https://shop.example/?msclkid=abc", "", Channel.PAID),
        ("https://shop.example/?utm_source=google&utm_medium=cpc", "https://www.google.com/", Channel.PAID),
        ("https://shop.example/?utm_medium=Paid_Social", "https://www.facebook.com/", Channel.PAID),
        ("https://shop.example/?utm_medium=display", "", Channel.PAID),
        ("https://shop.example/?utm_medium=Email&utm_source=weekly", "", Channel.EMAIL),
        ("https://shop.example/?utm_source=newsletter", "", Channel.EMAIL),
        ("https://shop.example/?utm_medium=social&utm_source=facebook", "", Channel.SOCIAL),
        ("https://shop.example/?utm_medium=organic&utm_source=google", "", Channel.SEARCH),
        ("https://shop.example/?fbclid=IwAR", "https://l.facebook.com/", Channel.SOCIAL),  # fbclid is not paid
        ("https://shop.example/", "https://www.google.co.uk/", Channel.SEARCH),
        ("https://shop.example/", "https://duckduckgo.com/", Channel.SEARCH),
        ("https://shop.example/", "https://m.facebook.com/", Channel.SOCIAL),
        ("https://shop.example/", "https://t.co/x", Channel.SOCIAL),
        ("https://shop.example/", "https://mail.google.com/", Channel.EMAIL),
        ("https://shop.example/b", "https://www.shop.example/a", Channel.INTERNAL),
        ("https://www.shop.example/b", "https://shop.example/a", Channel.INTERNAL),
        ("https://shop.example/", "https://blog.example/post", Channel.REFERRAL),
        ("https://shop.example/", "https://chatgpt.com/", Channel.REFERRAL),
        ("https://shop.example/?utm_source=partner", "", Channel.REFERRAL),
        ("https://shop.example/", "", Channel.DIRECT),
        ("https://shop.example/", "not a url", Channel.DIRECT),
    ],
)
def test_channel_rules_in_order(context: EnrichContext, url: str, referrer: str, channel: Channel) -> None:
    event = enriched(pixel_hit(url=url, referrer=referrer), context)
    assert event.channel is channel


def test_referrer_host_and_source_are_stored(context: EnrichContext) -> None:
    event = enriched(pixel_hit(referrer="https://www.google.co.uk/search?q=x"), context)
    assert (event.referrer_host, event.referrer_source) == ("www.google.co.uk", "Google")
    other = enriched(pixel_hit(referrer="https://blog.example/post"), context)
    assert (other.referrer_host, other.referrer_source) == ("blog.example", "")


def test_email_events_are_the_email_channel(context: EnrichContext) -> None:
    assert enriched(email_hit(user_agent=GMAIL_IMAGE_PROXY), context).channel is Channel.EMAIL


def test_utm_tags_and_click_id_are_stored_on_the_event(context: EnrichContext) -> None:
    url = "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQ"
    event = enriched(pixel_hit(url=url), context)
    assert (event.utm_source, event.utm_medium, event.utm_campaign) == ("google", "cpc", "brand")
    assert event.click_id_type == "gclid"


# --- visitor hashes ----------------------------------------------------------------------------------------


def visitor_hash_of(context: EnrichContext, **kwargs: Any) -> str:
    return enriched(pixel_hit(anonymous_id="", **kwargs), context).visitor_hash


def test_the_visitor_hash_is_stable_within_a_day_and_rotates_daily(context: EnrichContext) -> None:
    morning = visitor_hash_of(context, received_at=RECEIVED.replace(hour=0, minute=1))
    evening = visitor_hash_of(context, received_at=RECEIVED.replace(hour=23, minute=59))
    next_day = visitor_hash_of(context, received_at=RECEIVED.replace(hour=0, minute=1) + timedelta(days=1))
    assert len(morning) == 32
    assert morning == evening
    assert next_day != morning


def test_the_day_of_the_visitor_hash_is_the_utc_day() -> None:
    from stream_processors.enrich.steps import utc_day

    late_in_new_york = datetime(2026, 11, 23, 22, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    )
    assert utc_day(late_in_new_york).isoformat() == "2026-11-23"


def test_the_visitor_hash_differs_per_site_address_and_browser(context: EnrichContext) -> None:
    base = visitor_hash_of(context)
    assert visitor_hash_of(context, site_id="blog") != base
    assert visitor_hash_of(context, ip="81.2.69.143") != base  # the full address, not the masked /24
    assert visitor_hash_of(context, user_agent=FIREFOX_LINUX) != base


def test_the_visitor_hash_depends_on_the_secret(context: EnrichContext) -> None:
    other = EnrichContext(context.ip_lookup, context.referrers, visitor_salt_secret=b"another secret, 32 bytes long!!")
    hit = pixel_hit(anonymous_id="")
    event = normalize_hit(hit)
    assert isinstance(event, Event)
    assert enrich_event(event, hit, other).visitor_hash != enrich_event(event, hit, context).visitor_hash


def test_no_visitor_hash_for_events_with_their_own_visitor_id_or_without_an_address(context: EnrichContext) -> None:
    assert enriched(pixel_hit(anonymous_id="anon-1"), context).visitor_hash == ""
    assert enriched(segment_hit(request_user_agent="analytics-python/2.3.4", context={}), context).visitor_hash == ""
    assert visitor_hash_of(context, ip="garbage") == ""


# --- the pipeline ------------------------------------------------------------------------------------------


def test_the_context_needs_a_salt_secret() -> None:
    with pytest.raises(SettingsError, match="BEACON_STREAM_VISITOR_SALT_SECRET"):
        load_enrich_context(StreamWorkerSettings(stream_visitor_salt_secret="short"))
    loaded = load_enrich_context(StreamWorkerSettings(stream_visitor_salt_secret="x" * 32))
    assert loaded.visitor_salt_secret == b"x" * 32


def test_an_event_stored_before_enrichment_still_parses() -> None:
    event = normalize_hit(pixel_hit())
    assert isinstance(event, Event)
    old_json = event.model_dump_json(include=set(Event.model_fields) - {"browser", "channel", "device_type"})
    old = Event.model_validate_json(old_json)
    assert (old.browser, old.channel, old.device_type) == ("", Channel.UNKNOWN, DeviceType.UNKNOWN)


def test_a_failing_step_is_logged_and_skipped(context: EnrichContext) -> None:
    from stream_processors.enrich.pipeline import ENRICH_STEPS

    def broken(*_: object) -> Any:
        raise RuntimeError("bug")

    hit = pixel_hit(referrer="https://www.google.com/")
    event = normalize_hit(hit)
    assert isinstance(event, Event)
    with capture_logs() as logs:
        result = enrich_event(event, hit, context, steps=(broken, *ENRICH_STEPS))
    assert [entry["event"] for entry in logs] == ["enrich_step_failed"]
    assert result.channel is Channel.SEARCH


@given(
    user_agent=st.text(max_size=300),
    ip=st.text(max_size=60) | st.ip_addresses().map(str),
    url=st.text(max_size=200) | st.from_regex(r"\Ahttps?://[a-z.]{1,20}/[?&=a-z_%0-9]{0,40}\Z"),
    referrer=st.text(max_size=200),
    anonymous_id=st.sampled_from(["", "anon-1"]),
    source=st.sampled_from(list(HitSource)),
)
def test_enrich_event_never_raises_on_any_strings(
    user_agent: str, ip: str, url: str, referrer: str, anonymous_id: str, source: HitSource
) -> None:
    context = EnrichContext(bundled_ip_lookup(), _REFERRERS, SECRET)
    body = json.dumps({"type": "track", "event": "x", "context": {"ip": ip, "userAgent": user_agent}})
    hit = RawHit(
        hit_id=UUID(int=1),
        source=source,
        received_at=RECEIVED,
        site_id="shop",
        query={"ip": ip, "ua": user_agent},
        body=body,
        ip=ip,
        user_agent=user_agent,
        referer=referrer,
    )
    event = Event(
        event_id=UUID(int=1),
        site_id="shop",
        event_name="page_view",
        event_time=RECEIVED,
        received_at=RECEIVED,
        anonymous_id=anonymous_id,
        user_id="",
        url=url,
        referrer=referrer,
        user_agent=user_agent,
        ip="",
        properties={},
        source=source,
    )
    with capture_logs() as logs:
        result = enrich_event(event, hit, context)
    assert not logs, logs
    assert result.event_id == event.event_id
    assert result.device_type is not DeviceType.UNKNOWN
    assert result.channel is not Channel.UNKNOWN


_REFERRERS = ReferrerList.load()
