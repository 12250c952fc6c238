"""Risk signals built at the edge: the login page's browser report, and `LoginSignal` /
`RequestSignal` from a Starlette request.

The login page carries a nonce (`issue_signal_nonce`) MAC-bound to the device cookie's id and
to the moment the page was served; our script (`static/signals.js`) writes its report into the
hidden field `bastion_signals`. `read_browser_signals` believes a report only with a nonce that
verifies for this device and is under an hour old, and then only as clamped, typed values:
the report is the client's word, so it can make a visitor look more like a bot, never prove a
human. A report with no valid nonce is `BrowserSignals(present=False)`.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import HTTPConnection

from bastion.crypto.digest import sha256_hex
from bastion.crypto.random import token_urlsafe
from bastion.crypto.signing import Signer
from bastion.errors import VerificationError
from bastion.risk.geo import GeoResolver
from bastion.risk.signals import BrowserSignals, Channel, LoginSignal, RequestSignal, Stage
from bastion.risk.useragent import MAX_AGENT, parse_agent

#: The Signer purpose of signal nonces; `SessionMiddleware` puts such a signer in the state.
SIGNALS_PURPOSE = "login-signals"
#: The login form's hidden fields.
REPORT_FIELD = "bastion_signals"
NONCE_FIELD = "bastion_signals_nonce"
NONCE_TTL_MS = 3600 * 1000
CLOCK_SKEW_MS = 60 * 1000  # workers' clocks may disagree a little
MAX_REPORT = 4096
MAX_NONCE = 120
MAX_COUNT = 100_000
MAX_FILL_MS = 24 * 3600 * 1000
MAX_STABLE = 512
MAX_LOGIN = 256
MAX_PATH = 200
FINGERPRINT_CHARS = 32
#: The headless hints our script can name; anything else in a report is dropped.
HINTS = frozenset(
    {
        "headless-ua",
        "no-plugins",
        "zero-outer-size",
        "no-languages",
        "no-window-chrome",
        "automation-globals",
        "ua-ch-missing",
    }
)
_NONCE_RANDOM_BYTES = 16


def issue_signal_nonce(signer: Signer, device_id: str, now: datetime) -> str:
    """A nonce for one login page load: `<issued ms>.<random>.<mac over device, time, random>`."""
    issued = str(int(now.timestamp() * 1000))
    random = token_urlsafe(_NONCE_RANDOM_BYTES)
    return f"{issued}.{random}.{signer.sign(_nonce_message(device_id, issued, random))}"


def read_browser_signals(
    signer: Signer,
    raw_json: object,
    nonce: object,
    device_id: str | None,
    now: datetime,
    *,
    user_agent: str | None = None,
) -> BrowserSignals:
    """The report in `raw_json` if `nonce` verifies for `device_id` and is fresh; else not present.

    `user_agent` (the request's User-Agent header), when given, is compared with the script's
    `navigator.userAgent`: a difference means a tool rewrote one of them. Never raises.
    """
    try:
        elapsed = _verify_nonce(signer, nonce, device_id, now)
        if elapsed is None or not isinstance(raw_json, str) or len(raw_json) > MAX_REPORT:
            return BrowserSignals()
        report = json.loads(raw_json)
        if not isinstance(report, dict):
            return BrowserSignals()
        return _signals(report, elapsed, user_agent)
    except (ValueError, TypeError, RecursionError, VerificationError):
        return BrowserSignals()


def page_signal_nonce(conn: HTTPConnection, now: datetime) -> str:
    """The nonce for the login page served on `conn` ("" without a device or signer)."""
    state = conn.scope.get("state") or {}
    signer, device_id = state.get("signals_signer"), state.get("device_id")
    if not isinstance(signer, Signer) or not isinstance(device_id, str) or not device_id:
        return ""
    return issue_signal_nonce(signer, device_id, now)


def form_browser_signals(
    conn: HTTPConnection, form: Mapping[str, str], now: datetime
) -> BrowserSignals:
    """`read_browser_signals` over the login form's fields and this request's device."""
    state = conn.scope.get("state") or {}
    signer = state.get("signals_signer")
    if not isinstance(signer, Signer):
        return BrowserSignals()
    return read_browser_signals(
        signer,
        form.get(REPORT_FIELD, ""),
        form.get(NONCE_FIELD, ""),
        state.get("device_id"),
        now,
        user_agent=conn.headers.get("user-agent", ""),
    )


def _nonce_message(device_id: str, issued: str, random: str) -> bytes:
    return "\x00".join((device_id, issued, random)).encode("utf-8", "surrogatepass")


def _verify_nonce(
    signer: Signer, nonce: object, device_id: str | None, now: datetime
) -> int | None:
    """Milliseconds since the nonce was issued, or None if it is not valid for this device now."""
    if not isinstance(nonce, str) or not device_id or len(nonce) > MAX_NONCE:
        return None
    parts = nonce.split(".")
    if len(parts) != 3:
        return None
    issued, random, mac = parts
    if not (issued.isascii() and issued.isdigit() and len(issued) <= 15):
        return None
    try:
        signer.verify(_nonce_message(device_id, issued, random), mac)
    except VerificationError:
        return None
    elapsed = int(now.timestamp() * 1000) - int(issued)
    if elapsed > NONCE_TTL_MS or elapsed < -CLOCK_SKEW_MS:
        return None
    return max(elapsed, 0)


def _signals(report: dict[str, Any], elapsed_ms: int, user_agent: str | None) -> BrowserSignals:
    fill = _number(report.get("fill_ms"), MAX_FILL_MS)
    # The page cannot have been filled in for longer than the server has seen it out: a tool
    # claiming a leisurely human pace while answering at once is held to what it did.
    fill_ms = None if fill is None else min(fill, elapsed_ms)
    hints = report.get("hints")
    named = (
        sorted({h for h in hints if isinstance(h, str) and h in HINTS})
        if isinstance(hints, list)
        else []
    )
    page_agent = report.get("ua")
    ua_mismatch = report.get("ua_mismatch") is True
    if isinstance(page_agent, str) and user_agent is not None:
        ua_mismatch |= page_agent[:MAX_AGENT] != user_agent[:MAX_AGENT]
    stable = report.get("stable")
    fingerprint = ""
    if isinstance(stable, str) and stable:
        encoded = stable[:MAX_STABLE].encode("utf-8", "surrogatepass")
        fingerprint = sha256_hex(encoded)[:FINGERPRINT_CHARS]
    return BrowserSignals(
        present=True,
        webdriver=report.get("webdriver") is True,
        pointer_events=_number(report.get("pointer"), MAX_COUNT) or 0,
        key_events=_number(report.get("keys"), MAX_COUNT) or 0,
        fill_ms=fill_ms,
        ua_mismatch=ua_mismatch,
        headless_hints=tuple(named),
        fingerprint=fingerprint,
    )


def _number(value: object, ceiling: int) -> int | None:
    """A non-negative integer clamped to `ceiling`; None for anything but a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return min(max(int(value), 0), ceiling)


# -- signals of sign-ins and requests ---------------------------------------------------------


def device_digest(device_id: str | None) -> str | None:
    """The digest of a device id that signals carry (the same one `auth.devices` stores)."""
    return sha256_hex(device_id.encode("utf-8", "surrogatepass")) if device_id else None


def session_digest(token: str | None) -> str | None:
    """A digest of a session token for signals, distinct from the session store's key."""
    if not token:
        return None
    return sha256_hex(b"bastion.risk.session\x00" + token.encode("utf-8", "surrogatepass"))


def normalise_login(login: str) -> str:
    """A login as signals carry it: NFKC, stripped, lower case, capped."""
    return unicodedata.normalize("NFKC", login or "").strip().lower()[:MAX_LOGIN]


def client_ip_of(conn: HTTPConnection) -> str:
    """The client's address as `ProxyHeadersMiddleware` found it (the socket peer otherwise)."""
    state = conn.scope.get("state") or {}
    ip = state.get("client_ip")
    if isinstance(ip, str) and ip:
        return ip
    return conn.client.host if conn.client else ""


def login_signal(
    conn: HTTPConnection,
    *,
    login: str,
    stage: Stage,
    uid: int | None,
    device_known: bool,
    browser: BrowserSignals,
    geo: GeoResolver,
    now: datetime,
    attempt_tag: str | None = None,
) -> LoginSignal:
    """The `LoginSignal` of a sign-in attempt arriving on `conn`."""
    state = conn.scope.get("state") or {}
    return LoginSignal(
        tenant=str(state.get("tenant") or ""),
        login=normalise_login(login),
        at=now,
        place=geo.locate(client_ip_of(conn)),
        agent=parse_agent(conn.headers.get("user-agent", "")),
        stage=stage,
        uid=uid,
        device=device_digest(state.get("device_id")),
        device_known=device_known,
        browser=browser,
        attempt_tag=attempt_tag,
    )


def request_signal(
    conn: HTTPConnection,
    *,
    uid: int,
    geo: GeoResolver,
    now: datetime,
    channel: Channel = "web",
    api_key: str | None = None,
    status: int | None = None,
) -> RequestSignal:
    """The `RequestSignal` of an authenticated request on `conn`.

    With a browser session (`state["session"]`), the signal carries the session's digest, the
    device it was created on and the device this request presents; an API call has neither.
    """
    state = conn.scope.get("state") or {}
    session = state.get("session")
    token = state.get("session_token")
    with_session = session is not None and isinstance(token, str) and bool(token)
    return RequestSignal(
        tenant=str(state.get("tenant") or ""),
        uid=uid,
        at=now,
        place=geo.locate(client_ip_of(conn)),
        agent=parse_agent(conn.headers.get("user-agent", "")),
        channel=channel,
        session=session_digest(token) if with_session else None,
        bound_device=device_digest(getattr(session, "device_id", None)) if with_session else None,
        device=device_digest(state.get("device_id")) if with_session else None,
        api_key=api_key,
        path=conn.url.path[:MAX_PATH],
        status=status,
    )
