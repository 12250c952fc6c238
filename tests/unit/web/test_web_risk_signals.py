"""Browser-signal nonces and reports, and the LoginSignal / RequestSignal builders.

A report counts only with a nonce issued for this device within the hour; its values are
clamped and typed; hostile input gives `BrowserSignals(present=False)`, never an exception."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from bastion.auth.sessions import Session
from bastion.crypto.digest import sha256_hex
from bastion.crypto.signing import Signer
from bastion.risk.geo import StaticGeoResolver, centroid
from bastion.risk.signals import BrowserSignals
from bastion.web.risk_signals import (
    MAX_COUNT,
    MAX_REPORT,
    NONCE_FIELD,
    REPORT_FIELD,
    SIGNALS_PURPOSE,
    device_digest,
    form_browser_signals,
    issue_signal_nonce,
    login_signal,
    page_signal_nonce,
    read_browser_signals,
    request_signal,
    session_digest,
)

KEY = b"s" * 32
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=6)
DEVICE = "d" * 43
OTHER_DEVICE = "e" * 43
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HUMAN = {
    "v": 1,
    "webdriver": False,
    "pointer": 42,
    "keys": 17,
    "fill_ms": 5200,
    "ua": UA,
    "ua_mismatch": False,
    "hints": [],
    "stable": "1920x1080|24|Europe/Paris|fr-FR,fr|Win32|8|8|0",
}
GEO = StaticGeoResolver([("198.51.100.0/24", 64500, "Example ISP", "FR")])


@pytest.fixture
def signer() -> Signer:
    return Signer([KEY], SIGNALS_PURPOSE)


def read(signer: Signer, report: Any, nonce: str, **kw: Any) -> BrowserSignals:
    raw = report if isinstance(report, str) else json.dumps(report)
    kw.setdefault("device_id", DEVICE)
    kw.setdefault("now", LATER)
    return read_browser_signals(signer, raw, nonce, kw.pop("device_id"), kw.pop("now"), **kw)


# -- nonces ----------------------------------------------------------------------------------


def test_report_with_a_fresh_nonce_of_this_device_is_present(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    got = read(signer, HUMAN, nonce, user_agent=UA)
    assert got == BrowserSignals(
        present=True,
        webdriver=False,
        pointer_events=42,
        key_events=17,
        fill_ms=5200,
        ua_mismatch=False,
        headless_hints=(),
        fingerprint=sha256_hex(HUMAN["stable"].encode())[:32],
    )


def test_report_with_the_nonce_of_another_device_is_not_present(signer: Signer) -> None:
    # Denied twin: a nonce (and report) lifted from another device's page does not count.
    nonce = issue_signal_nonce(signer, OTHER_DEVICE, NOW)
    assert read(signer, HUMAN, nonce) == BrowserSignals()


def test_report_with_a_nonce_older_than_an_hour_is_not_present(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert read(signer, HUMAN, nonce, now=NOW + dt.timedelta(minutes=59)).present
    assert not read(signer, HUMAN, nonce, now=NOW + dt.timedelta(minutes=61)).present


def test_nonce_from_the_future_is_refused_beyond_clock_skew(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW + dt.timedelta(seconds=30))
    assert read(signer, HUMAN, nonce, now=NOW).present  # within skew
    far = issue_signal_nonce(signer, DEVICE, NOW + dt.timedelta(minutes=5))
    assert not read(signer, HUMAN, far, now=NOW).present


def test_nonce_of_another_key_or_purpose_is_refused(signer: Signer) -> None:
    for other in (Signer([b"x" * 32], SIGNALS_PURPOSE), Signer([KEY], "device")):
        nonce = issue_signal_nonce(other, DEVICE, NOW)
        assert not read(signer, HUMAN, nonce).present


def test_nonces_differ_per_page_load(signer: Signer) -> None:
    assert issue_signal_nonce(signer, DEVICE, NOW) != issue_signal_nonce(signer, DEVICE, NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: "",
        lambda n: n + "x",
        lambda n: n[:-1] + ("A" if n[-1] != "A" else "B"),
        lambda n: str(int(n.split(".")[0]) + 3_600_000) + n[n.index(".") :],  # moved in time
        lambda n: n.replace(".", ":"),
        lambda n: n + "." + n,
        lambda n: "\uff19" * 13 + n[n.index(".") :],  # non-ASCII (fullwidth) digits
        lambda n: n * 10,
    ],
)
def test_tampered_nonce_is_refused(signer: Signer, tamper: Any) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert not read(signer, HUMAN, tamper(nonce)).present


@pytest.mark.parametrize("device", [None, ""])
def test_no_device_means_no_report(signer: Signer, device: str | None) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert not read(signer, HUMAN, nonce, device_id=device).present


# -- the report's values ---------------------------------------------------------------------


def test_automation_report_is_read_as_such(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    bot = {
        **HUMAN,
        "webdriver": True,
        "pointer": 0,
        "keys": 0,
        "fill_ms": 120,
        "ua_mismatch": True,
        "hints": ["zero-outer-size", "headless-ua", "no-plugins", "headless-ua"],
    }
    got = read(signer, bot, nonce)
    assert got.present and got.webdriver and got.ua_mismatch
    assert (got.pointer_events, got.key_events, got.fill_ms) == (0, 0, 120)
    assert got.headless_hints == ("headless-ua", "no-plugins", "zero-outer-size")


def test_fill_time_cannot_exceed_what_the_server_saw(signer: Signer) -> None:
    # A tool answering at once cannot claim a human's leisurely pace.
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    got = read(signer, {**HUMAN, "fill_ms": 60_000}, nonce, now=NOW + dt.timedelta(seconds=1))
    assert got.fill_ms == 1000


def test_page_agent_differing_from_the_header_is_a_mismatch(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert not read(signer, HUMAN, nonce, user_agent=UA).ua_mismatch
    assert read(signer, HUMAN, nonce, user_agent="python-requests/2.31").ua_mismatch


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        ("webdriver", "true", "webdriver", False),  # only the JSON true counts
        ("webdriver", 1, "webdriver", False),
        ("pointer", -5, "pointer_events", 0),
        ("pointer", 10**12, "pointer_events", MAX_COUNT),
        ("pointer", True, "pointer_events", 0),
        ("pointer", "12", "pointer_events", 0),
        ("pointer", 3.9, "pointer_events", 3),
        ("keys", None, "key_events", 0),
        ("keys", [1], "key_events", 0),
        ("fill_ms", -1, "fill_ms", 0),
        ("fill_ms", "soon", "fill_ms", None),
        ("fill_ms", False, "fill_ms", None),
        ("hints", "headless-ua", "headless_hints", ()),
        ("hints", ["made-up", 7, None, "no-languages"], "headless_hints", ("no-languages",)),
        ("stable", 12, "fingerprint", ""),
        ("stable", "", "fingerprint", ""),
        ("ua_mismatch", "yes", "ua_mismatch", False),
    ],
)
def test_fields_are_typed_and_clamped(
    signer: Signer, field: str, value: object, attribute: str, expected: object
) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    got = read(signer, {**HUMAN, field: value}, nonce)
    assert got.present
    assert getattr(got, attribute) == expected


def test_unknown_keys_are_ignored(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert read(signer, {**HUMAN, "present": False, "__proto__": 1}, nonce) == read(
        signer, HUMAN, nonce
    )


def test_long_stable_string_is_capped_before_digesting(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    a = read(signer, {**HUMAN, "stable": "x" * 512 + "a"}, nonce)
    b = read(signer, {**HUMAN, "stable": "x" * 512 + "b"}, nonce)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 32


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "null",
        "[]",
        '"text"',
        "42",
        "{",
        "NaN",
        '{"fill_ms": NaN}',
        '{"fill_ms": Infinity}',
        "[" * 3000 + "]" * 3000,  # too long
        "[" * 1500,
        '{"a":' * 1000 + "1" + "}" * 1000,
        "\ud800",
        '{"pointer": 1e999}',
    ],
)
def test_hostile_reports_never_raise(signer: Signer, raw: str) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    got = read(signer, raw, nonce)
    assert isinstance(got, BrowserSignals)
    assert got.fill_ms is None or got.fill_ms >= 0
    assert got.pointer_events == 0


def test_report_over_the_size_limit_is_not_present(signer: Signer) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    padded = json.dumps({**HUMAN, "pad": "x" * MAX_REPORT})
    assert not read(signer, padded, nonce).present


@pytest.mark.parametrize("raw", [None, 12, b"{}", ["{}"]])
def test_non_text_report_is_not_present(signer: Signer, raw: object) -> None:
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    assert read_browser_signals(signer, raw, nonce, DEVICE, LATER) == BrowserSignals()


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=300), nonce=st.text(max_size=150))
def test_arbitrary_text_never_raises(raw: str, nonce: str) -> None:
    signer = Signer([KEY], SIGNALS_PURPOSE)
    got = read_browser_signals(signer, raw, nonce, DEVICE, LATER)
    assert got == BrowserSignals()  # no nonce of ours: never present


@settings(max_examples=200, deadline=None)
@given(
    report=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["webdriver", "pointer", "keys", "fill_ms", "hints", "stable", "ua"]
                )
                | st.text(max_size=5),
                inner,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_with_a_valid_nonce_never_raises(report: object) -> None:
    signer = Signer([KEY], SIGNALS_PURPOSE)
    nonce = issue_signal_nonce(signer, DEVICE, NOW)
    got = read_browser_signals(signer, json.dumps(report), nonce, DEVICE, LATER, user_agent=UA)
    assert got.present is isinstance(report, dict)
    assert 0 <= got.pointer_events <= MAX_COUNT and 0 <= got.key_events <= MAX_COUNT


# -- from a request --------------------------------------------------------------------------


def request(state: dict[str, Any], ua: str = UA, path: str = "/web/login") -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"acme.example"), (b"user-agent", ua.encode("latin-1"))],
        "client": ("10.9.9.9", 5000),
        "server": ("acme.example", 443),
        "scheme": "https",
        "state": state,
    }
    return Request(scope)


def test_page_nonce_and_form_round_trip_through_the_request_state(signer: Signer) -> None:
    state = {"signals_signer": signer, "device_id": DEVICE}
    nonce = page_signal_nonce(request(state), NOW)
    form = {REPORT_FIELD: json.dumps(HUMAN), NONCE_FIELD: nonce}
    assert form_browser_signals(request(state), form, LATER).present
    # Twin: the same form posted from another device's cookie.
    other = {"signals_signer": signer, "device_id": OTHER_DEVICE}
    assert not form_browser_signals(request(other), form, LATER).present


def test_page_nonce_is_empty_without_signer_or_device(signer: Signer) -> None:
    assert page_signal_nonce(request({"device_id": DEVICE}), NOW) == ""
    assert page_signal_nonce(request({"signals_signer": signer}), NOW) == ""
    assert form_browser_signals(request({}), {}, NOW) == BrowserSignals()


def test_login_signal_from_a_request() -> None:
    state = {"tenant": "acme", "client_ip": "198.51.100.7", "device_id": DEVICE}
    browser = BrowserSignals(present=True, pointer_events=3)
    signal = login_signal(
        request(state),
        login="  Alice@Example.ORG ",
        stage="before",
        uid=None,
        device_known=False,
        browser=browser,
        geo=GEO,
        now=NOW,
        attempt_tag="tag",
    )
    assert (signal.tenant, signal.login, signal.at, signal.stage) == (
        "acme",
        "alice@example.org",
        NOW,
        "before",
    )
    assert signal.place.ip == "198.51.100.7" and signal.place.asn == 64500
    assert (signal.place.latitude, signal.place.longitude) == centroid("FR")
    assert signal.agent.browser == "Chrome" and not signal.agent.automated
    assert signal.device == sha256_hex(DEVICE.encode()) == device_digest(DEVICE)
    assert signal.browser is browser and signal.attempt_tag == "tag"


def test_login_signal_uses_the_proxy_resolved_ip_not_the_socket_peer() -> None:
    with_proxy = login_signal(
        request({"client_ip": "198.51.100.7"}),
        login="a",
        stage="failed",
        uid=1,
        device_known=True,
        browser=BrowserSignals(),
        geo=GEO,
        now=NOW,
    )
    without = login_signal(
        request({}),
        login="a",
        stage="failed",
        uid=1,
        device_known=True,
        browser=BrowserSignals(),
        geo=GEO,
        now=NOW,
    )
    assert with_proxy.place.ip == "198.51.100.7"
    assert without.place.ip == "10.9.9.9" and without.place.country is None
    assert without.tenant == "" and without.device is None


def test_login_is_normalised_nfkc_and_capped() -> None:
    signal = login_signal(
        request({}),
        login="\uff21\uff2c\uff29\uff23\uff25" + "x" * 1000,  # fullwidth ALICE
        stage="before",
        uid=None,
        device_known=False,
        browser=BrowserSignals(),
        geo=GEO,
        now=NOW,
    )
    assert signal.login.startswith("alice") and len(signal.login) == 256


def _session(device_id: str | None) -> Session:
    return Session(
        sid="s1",
        uid=7,
        created=0.0,
        last_seen=0.0,
        auth_time=0.0,
        mfa_pending=False,
        persistent=False,
        device_id=device_id,
        ip="198.51.100.7",
        user_agent=UA,
        csrf_token="c" * 43,
    )


def test_request_signal_of_a_browser_session_carries_both_devices() -> None:
    state = {
        "tenant": "acme",
        "client_ip": "198.51.100.9",
        "device_id": OTHER_DEVICE,
        "session": _session(DEVICE),
        "session_token": "t" * 43,
    }
    signal = request_signal(request(state, path="/web/records"), uid=7, geo=GEO, now=NOW)
    assert (signal.tenant, signal.uid, signal.channel, signal.path) == (
        "acme",
        7,
        "web",
        "/web/records",
    )
    assert signal.session == session_digest("t" * 43)
    assert signal.session != sha256_hex(("t" * 43).encode())  # not the session store's key
    assert signal.bound_device == device_digest(DEVICE)
    assert signal.device == device_digest(OTHER_DEVICE)
    assert signal.place.country == "FR"


def test_request_signal_of_an_api_call_has_no_session_or_device() -> None:
    state = {"tenant": "acme", "client_ip": "198.51.100.9", "device_id": DEVICE}
    signal = request_signal(
        request(state, ua="python-requests/2.31"),
        uid=7,
        geo=GEO,
        now=NOW,
        channel="rest",
        api_key="bk_abc",
        status=200,
    )
    assert (signal.session, signal.bound_device, signal.device) == (None, None, None)
    assert (signal.channel, signal.api_key, signal.status) == ("rest", "bk_abc", 200)
    assert signal.agent.automated
