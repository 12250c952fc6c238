"""Signals: what the edge saw of one event, as frozen data the detectors read.

Built by the web layer for every sign-in attempt, authenticated request and API call. They
carry no secrets: devices and sessions appear as digests, a password never (a spraying
detector gets at most a short-lived keyed tag of it, see `LoginSignal.attempt_tag`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: Where a sign-in attempt is in the flow when it is assessed.
Stage = Literal["before", "failed", "succeeded"]
#: Which door a request came through.
Channel = Literal["web", "rpc", "rest"]


#: The kinds of network a `Place` may name: servers, not somebody's line (see `Place.hosted`).
NETWORK_KINDS = frozenset({"hosting", "vpn", "tor", "cdn", "bot"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where an address is: its network, autonomous system and country (when known)."""

    ip: str
    network: str  # the /24 (IPv4) or /56 (IPv6) the address belongs to, as CIDR text
    asn: int | None = None
    as_name: str = ""
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    # Approximate coordinates (the country's centroid) for travel checks; None when unknown.
    latitude: float | None = None
    longitude: float | None = None
    # What kind of network the address is on when it is a server rather than somebody's line:
    # "hosting", "vpn", "tor", "cdn" or "bot" (a declared crawler); "" when unknown (most often
    # a residential, mobile or business line: absence of evidence, not proof).
    network_kind: str = ""

    @property
    def hosted(self) -> bool:
        """True when the address is a machine in a hosting, VPN, Tor or CDN network."""
        return self.network_kind in NETWORK_KINDS


@dataclass(frozen=True, slots=True)
class Agent:
    """A user agent, parsed."""

    browser: str = "Other"  # family, e.g. "Chrome", "Firefox"
    browser_major: str = ""
    os: str = "Other"  # family, e.g. "Windows", "Mac OS X", "Android"
    device: str = "other"  # "desktop", "mobile", "tablet", "bot", "other"
    automated: bool = False  # the UA string itself says so (HeadlessChrome, python-requests, ...)
    digest: str = ""  # short digest of the raw string, for exact-match features


@dataclass(frozen=True, slots=True)
class BrowserSignals:
    """What our own script on the login page reported, bound to the device server-side.

    `present` is False when the script did not run or its report did not verify: the
    detectors treat a missing report as a weak signal (some people block scripts), never
    as proof of a human.
    """

    present: bool = False
    webdriver: bool = False  # navigator.webdriver
    pointer_events: int = 0
    key_events: int = 0
    fill_ms: int | None = None  # time from page load to submit
    ua_mismatch: bool = False  # User-Agent disagrees with client hints / navigator
    headless_hints: tuple[str, ...] = ()  # named oddities, e.g. "no-plugins", "zero-outer-size"
    fingerprint: str = ""  # digest of stable browser attributes (screen, timezone, languages)


@dataclass(frozen=True, slots=True)
class LoginSignal:
    """One sign-in attempt, at one stage of the flow."""

    tenant: str
    login: str  # as typed, normalised (NFKC, stripped, lower case)
    at: datetime
    place: Place
    agent: Agent
    stage: Stage = "before"
    uid: int | None = None  # None: no such (active) user
    device: str | None = None  # digest of the device cookie; None when the browser sent none
    device_known: bool = False  # this user completed a sign-in from this device before
    browser: BrowserSignals = field(default_factory=BrowserSignals)
    # For failed attempts only: a keyed digest of the password under a key that lives for one
    # short window and is then forgotten, so one password tried across many accounts shows,
    # and nothing learnt about a password outlives the window.
    attempt_tag: str | None = None
    channel: Channel = "web"  # RPC sign-ins (common.login, /web/session/authenticate) are "rpc"


@dataclass(frozen=True, slots=True)
class RequestSignal:
    """One authenticated request (a browser session) or API call (an API key or RPC login)."""

    tenant: str
    uid: int
    at: datetime
    place: Place
    agent: Agent
    channel: Channel = "web"
    session: str | None = None  # digest of the session id (web) ; None for API calls
    bound_device: str | None = None  # device digest the session was created on
    device: str | None = None  # device digest this request presented
    api_key: str | None = None  # the key's public prefix, for API calls made with a key
    path: str = ""
    status: int | None = None  # response status, when assessed after the response
