"""Session binding at the edge (RiskGuardMiddleware): a session cookie used from another device is
revoked on its first request, for the thief and the real browser alike; a change of network
asks for re-verification, after which the session goes on from the new place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.crypto.totp import totp_code_at
from bastion.risk.findings import Action
from bastion.web.session import DEVICE_COOKIE, SESSION_COOKIE
from support.risk_site import (
    CH_MOBILE,
    HOME,
    HOME_2,
    PASSWORD,
    US,
    RiskSite,
    at,
    auth_of,
    device_of,
    make_risk_site,
    set_cookie,
    sign_in,
    signed_in,
)
from support.web_client import WebClient, csrf_of

JSON_RPC = {"content-type": "application/json", "accept": "application/json"}


@pytest.fixture
def site(tmp_path: Path) -> RiskSite:
    return make_risk_site(tmp_path)


def call_kw(web: WebClient) -> dict[str, object]:
    body = {"jsonrpc": "2.0", "id": 7, "method": "call",
            "params": {"model": "res.partner", "method": "search_count", "args": [[]],
                       "kwargs": {}}}  # fmt: skip
    answer: dict[str, object] = web.post(
        "/web/dataset/call_kw", content=json.dumps(body), headers=JSON_RPC
    ).json()
    return answer


def reverify(web: WebClient, data: dict[str, str]) -> object:
    page = web.get("/web/reverify")
    assert page.url.path == "/web/reverify", page.url
    return web.post("/web/reverify", {**data, "csrf_token": csrf_of(page.text)})


# -- device binding --------------------------------------------------------------------------


def test_session_request_from_its_own_device_passes(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        page = web.get("/web/security")
        assert page.url.path == "/web/security" and "Alice Example" in page.text
        assert auth_of(web).risk.events.count() == 0


def test_session_cookie_replayed_from_another_browser_is_revoked_on_first_request(
    site: RiskSite,
) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        assert signed_in(owner)
        at(thief, HOME)  # even from the owner's own network
        device_of(thief)  # the thief's browser has a device cookie of its own
        set_cookie(thief, SESSION_COOKIE, token)
        first = thief.get("/web/security")
        assert first.url.path == "/web/login"
        assert first.history[0].status_code == 303
        assert SESSION_COOKIE not in thief.cookies  # cleared by the answer
        assert not signed_in(owner)  # the session itself is dead: the real browser too
        [event] = auth_of(owner).risk.events.list()
        assert event.action is Action.REVOKE and event.kind == "request"
        assert [(f.detector, f.code) for f in event.findings] == [("binding", "device-mismatch")]


def test_session_cookie_replayed_without_any_device_cookie_is_revoked(site: RiskSite) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        at(thief, HOME)
        set_cookie(thief, SESSION_COOKIE, token)  # a bare cookie, e.g. from a proxy log
        assert thief.get("/web").url.path == "/web/login"
        assert not signed_in(owner)


def test_session_cookie_replayed_with_a_forged_device_cookie_is_revoked(site: RiskSite) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        at(thief, HOME)
        # The owner's device id without the server's MAC: a new device, not the owner's.
        set_cookie(thief, DEVICE_COOKIE, device_of(owner) + ".forged")
        set_cookie(thief, SESSION_COOKIE, token)
        assert thief.get("/web").url.path == "/web/login"
        assert not signed_in(owner)


def test_session_cookie_replayed_with_its_device_cookie_passes_device_binding(
    site: RiskSite,
) -> None:
    # Twin: a copy of the whole cookie jar is the same device as far as the server can tell;
    # from the same network it passes (the place check is what meets it elsewhere).
    with site.browser() as owner, site.browser() as copy:
        token = sign_in(owner)
        at(copy, HOME_2)
        set_cookie(copy, DEVICE_COOKIE, str(owner.cookies[DEVICE_COOKIE]))
        set_cookie(copy, SESSION_COOKIE, token)
        assert signed_in(copy) and signed_in(owner)


def test_replayed_cookie_on_the_json_api_gets_session_expired_and_ends_the_session(
    site: RiskSite,
) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        at(thief, HOME)
        set_cookie(thief, SESSION_COOKIE, token)
        answer = call_kw(thief)
        assert answer["id"] == 7
        assert answer["error"]["code"] == 100  # type: ignore[index]
        assert "result" not in answer
        assert not signed_in(owner)


def test_replayed_cookie_from_a_script_gets_401_json(site: RiskSite) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        at(thief, HOME)
        set_cookie(thief, SESSION_COOKIE, token)
        answer = thief.get("/web/security", headers={"accept": "application/json"})
        assert answer.status_code == 401
        assert answer.json()["error"] == "session_revoked"


def test_own_session_checked_once_per_address_records_nothing(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        for _ in range(5):
            assert signed_in(web)
        at(web, HOME_2)  # a new address of the same network and country: no change of place
        assert signed_in(web)
        assert auth_of(web).risk.events.count() == 0


# -- change of place -------------------------------------------------------------------------


def test_country_change_asks_for_reverification_and_passing_it_continues(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, ip=HOME)
        assert signed_in(web)
        before = web.cookies[SESSION_COOKIE]
        at(web, US)
        page = web.get("/web/records")
        assert page.url.path == "/web/reverify"
        assert page.url.params["next"] == "/web/records"
        assert US in page.text and "(US" in page.text
        assert 'data-testid="reverify-password-form"' in page.text  # no second factor
        assert web.get("/web/security").url.path == "/web/reverify"  # every page waits
        done = reverify(web, {"method": "password", "password": PASSWORD, "next": "/web/security"})
        assert done.url.path == "/web/security"  # type: ignore[attr-defined]
        assert web.cookies[SESSION_COOKIE] != before  # a new proof: the token is rotated
        assert signed_in(web)
        [event] = auth_of(web).risk.events.list()
        assert event.action is Action.CHALLENGE and event.country == "US"
        assert {f.code for f in event.findings} >= {"place-change"}
        # The new place is the session's now: more requests from it are not flagged again.
        assert web.get("/web/security").url.path == "/web/security"
        assert auth_of(web).risk.events.count() == 1


def test_change_of_network_within_the_country_asks_for_reverification(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, ip=HOME)
        assert signed_in(web)
        at(web, CH_MOBILE)
        assert web.get("/web").url.path == "/web/reverify"


def test_session_first_used_elsewhere_is_compared_with_its_sign_in_place(site: RiskSite) -> None:
    # No request from the sign-in's network ever reached the server: the sign-in's own
    # address is the reference all the same.
    with site.browser() as web:
        sign_in(web, ip=HOME)
        at(web, US)
        assert web.get("/web").url.path == "/web/reverify"


def test_wrong_password_keeps_the_session_waiting(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        assert signed_in(web)
        at(web, US)
        refused = reverify(web, {"method": "password", "password": "not the password at all"})
        assert refused.status_code == 401  # type: ignore[attr-defined]
        assert web.get("/web").url.path == "/web/reverify"


def test_user_with_an_authenticator_must_use_it_not_the_password(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        auth = auth_of(web)
        uid = auth.login.find_user("alice").uid  # type: ignore[union-attr]
        secret = auth.totp.begin(uid, site.clock.now())
        auth.totp.confirm(uid, totp_code_at(secret, site.clock.now()), site.clock.now())
        assert signed_in(web)
        at(web, US)
        page = web.get("/web")
        assert 'data-testid="reverify-totp-form"' in page.text
        assert 'data-testid="reverify-password-form"' not in page.text
        refused = reverify(web, {"method": "password", "password": PASSWORD})
        assert refused.status_code == 400  # type: ignore[attr-defined]
        site.clock.advance(seconds=30)  # the enrolment used this time step's code
        code = totp_code_at(secret, site.clock.now())
        done = reverify(web, {"method": "totp", "code": code, "next": "/web"})
        assert done.url.path == "/web"  # type: ignore[attr-defined]
        assert signed_in(web)


def test_json_call_while_waiting_is_answered_as_signed_out_without_ending_the_session(
    site: RiskSite,
) -> None:
    with site.browser() as web:
        sign_in(web)
        assert signed_in(web)
        at(web, US)
        assert call_kw(web)["error"]["code"] == 100  # type: ignore[index]
        assert web.get("/web").url.path == "/web/reverify"  # still waiting, not revoked
        reverify(web, {"method": "password", "password": PASSWORD})
        assert call_kw(web)["result"] >= 1  # type: ignore[operator]


def test_waiting_session_records_the_change_once(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        assert signed_in(web)
        at(web, US)
        for path in ("/web", "/web/security", "/web/records", "/web"):
            assert web.get(path).url.path == "/web/reverify"
        assert auth_of(web).risk.events.count() == 1


def test_reverify_page_without_a_pending_change_sends_on(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        page = web.get("/web/reverify", params={"next": "/web/security"})
        assert page.url.path == "/web/security"
