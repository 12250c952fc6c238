"""User agents: real browsers' strings parse to family, OS and device type; programs and
headless browsers that say so are marked automated; hostile input is capped and never raises."""

from __future__ import annotations

import pytest

from bastion.crypto.digest import sha256_hex
from bastion.risk.useragent import CACHE_SIZE, MAX_AGENT, _parse, parse_agent

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/120.0.2210.91"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.230 Mobile Safari/537.36"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.230 Safari/537.36"
)
CUBOT_PHONE = (  # a phone brand that ends in "bot": not a bot
    "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/88.0.4324.181 Mobile Safari/537.36"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36"
)
PHANTOMJS = (
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/534.34"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


@pytest.mark.parametrize(
    ("ua", "browser", "major", "os", "device"),
    [
        (CHROME_WINDOWS, "Chrome", "120", "Windows", "desktop"),
        (FIREFOX_LINUX, "Firefox", "121", "Linux", "desktop"),
        (SAFARI_MAC, "Safari", "17", "Mac OS X", "desktop"),
        (EDGE_WINDOWS, "Edge", "120", "Windows", "desktop"),
        (SAFARI_IPHONE, "Mobile Safari", "17", "iOS", "mobile"),
        (CHROME_ANDROID_PHONE, "Chrome Mobile", "120", "Android", "mobile"),
        (CUBOT_PHONE, "Chrome Mobile", "88", "Android", "mobile"),
        (SAFARI_IPAD, "Mobile Safari", "17", "iOS", "tablet"),
        (CHROME_ANDROID_TABLET, "Chrome", "120", "Android", "tablet"),
    ],
)
def test_browsers_of_people_parse_and_are_not_automated(
    ua: str, browser: str, major: str, os: str, device: str
) -> None:
    agent = parse_agent(ua)
    assert (agent.browser, agent.browser_major, agent.os, agent.device) == (
        browser,
        major,
        os,
        device,
    )
    assert agent.automated is False


@pytest.mark.parametrize(
    "ua",
    [
        HEADLESS_CHROME,
        PHANTOMJS,
        GOOGLEBOT,
        BINGBOT,
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Python-urllib/3.11",
        "python-httpx/0.27.0",
        "Go-http-client/1.1",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
        "Apache-HttpClient/4.5.14 (Java/17.0.9)",
        "Java/17.0.9",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "axios/1.6.2",
        "Scrapy/2.11.0 (+https://scrapy.org)",
        "libwww-perl/6.72",
        CHROME_WINDOWS + " Playwright/1.41",
        CHROME_WINDOWS + " Puppeteer",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexSpider/3.0)",
        "",
        "   ",
    ],
)
def test_programs_and_headless_browsers_are_automated_bots(ua: str) -> None:
    # Denied twin of the test above.
    agent = parse_agent(ua)
    assert agent.automated is True
    assert agent.device in ("bot", "other")
    if ua.strip():
        assert agent.device == "bot"


def test_headless_chrome_keeps_its_family_and_version() -> None:
    agent = parse_agent(HEADLESS_CHROME)
    assert (agent.browser, agent.browser_major, agent.os) == ("HeadlessChrome", "120", "Linux")


def test_digest_is_a_short_sha256_of_the_string() -> None:
    agent = parse_agent(CHROME_WINDOWS)
    assert agent.digest == sha256_hex(CHROME_WINDOWS.encode())[:16]
    assert parse_agent(CHROME_WINDOWS + " ").digest != agent.digest


def test_unknown_agent_is_other_and_not_automated() -> None:
    agent = parse_agent("SomethingNobodyWrote/1.0")
    assert (agent.browser, agent.os, agent.device, agent.automated) == (
        "Other",
        "Other",
        "other",
        False,
    )


def test_input_is_capped_before_parsing_and_digesting() -> None:
    huge = CHROME_WINDOWS + "A" * 100_000
    agent = parse_agent(huge)
    assert agent.digest == sha256_hex(huge[:MAX_AGENT].encode())[:16]
    assert agent.browser == "Chrome"


@pytest.mark.parametrize(
    "ua",
    [
        "\x00\x01\x02",
        "\ud800 lone surrogate",
        "Mozilla/5.0 (" * 200,
        "((((((((((((((((((((((((((((((((((((((((",
        "é" * 600,
        "Chrome/" + "9" * 400,
    ],
)
def test_hostile_agents_never_raise(ua: str) -> None:
    agent = parse_agent(ua)
    assert len(agent.browser) <= 64 and len(agent.os) <= 64 and len(agent.browser_major) <= 64


def test_non_text_is_treated_as_missing() -> None:
    assert parse_agent(None) == parse_agent("")  # type: ignore[arg-type]


def test_cache_is_bounded() -> None:
    for i in range(CACHE_SIZE + 50):
        parse_agent(f"Mozilla/5.0 test-{i}")
    assert _parse.cache_info().currsize <= CACHE_SIZE
