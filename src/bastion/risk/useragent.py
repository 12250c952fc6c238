"""`parse_agent`: a User-Agent header as an `Agent` (browser, OS, device type, automation).

Parsing uses ua-parser (the uap-core rules, with its native accelerator when installed) behind a
bounded cache; the input is capped first, so a hostile header costs at most one parse of
`MAX_AGENT` characters and cannot grow the cache without bound.
"""

from __future__ import annotations

import functools
import re

from ua_parser import Result, parse

from bastion.crypto.digest import sha256_hex
from bastion.risk.signals import Agent

MAX_AGENT = 512
CACHE_SIZE = 4096
DIGEST_CHARS = 16
_MAX_FIELD = 64

#: Programs and automation frameworks that say so in their User-Agent. A real browser driven by
#: automation usually hides it; these catch the ones that do not bother (scripts, old headless
#: modes) and the HTTP libraries of credential-stuffing tools.
_AUTOMATION = re.compile(
    r"headlesschrome|headless|phantomjs|slimerjs|python-requests|python-urllib|python-httpx"
    r"|aiohttp|httpx/|urllib3|curl/|wget/|go-http-client|okhttp|playwright|puppeteer|selenium"
    r"|webdriver|libwww-perl|java/|apache-httpclient|node-fetch|axios/|undici|scrapy"
    r"|httpclient|postmanruntime|insomnia|powershell|\bbot\b|bot/|spider|crawler|crawl/",
    re.IGNORECASE,
)
_DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS", "FreeBSD",
     "OpenBSD", "NetBSD", "Solaris", "Windows NT", "Mint", "Arch Linux", "Red Hat", "SUSE"}
)  # fmt: skip
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "Symbian OS", "KaiOS", "Firefox OS",
     "Tizen", "HarmonyOS", "webOS"}
)  # fmt: skip
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|nexus (7|9|10)", re.IGNORECASE)


def parse_agent(ua: str) -> Agent:
    """The parsed agent of a User-Agent header value (capped at `MAX_AGENT` characters)."""
    if not isinstance(ua, str):
        ua = ""
    return _parse(ua[:MAX_AGENT])


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse(ua: str) -> Agent:
    digest = sha256_hex(ua.encode("utf-8", "surrogatepass"))[:DIGEST_CHARS]
    text = ua.strip()
    if not text:
        # A browser always sends one: no User-Agent at all is a program's habit.
        return Agent(device="other", automated=True, digest=digest)
    try:
        result = parse(text)
    except Exception:  # the parser is third-party code fed hostile text: never raise past it
        result = Result(None, None, None, text)
    browser = result.user_agent.family if result.user_agent else "Other"
    major = (result.user_agent.major or "") if result.user_agent else ""
    os_family = result.os.family if result.os else "Other"
    spider = result.device is not None and result.device.family == "Spider"
    automated = spider or _AUTOMATION.search(text) is not None
    return Agent(
        browser=_clip(browser) or "Other",
        browser_major=_clip(major),
        os=_clip(os_family) or "Other",
        device="bot" if automated else _device_type(result, text, os_family),
        automated=automated,
        digest=digest,
    )


def _device_type(result: Result, text: str, os_family: str) -> str:
    device = result.device
    described = f"{device.family} {device.brand or ''} {device.model or ''}" if device else ""
    if _TABLET.search(described) or _TABLET.search(text):
        return "tablet"
    if os_family == "Android" and "mobile" not in text.lower():
        # Android's convention: tablets leave "Mobile" out of the User-Agent.
        return "tablet"
    if os_family in _MOBILE_OS or "mobi" in text.lower():
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


def _clip(value: str) -> str:
    return value[:_MAX_FIELD]
