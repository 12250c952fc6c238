"""Session theft: a stolen session cookie is useless from another browser (revoked on its first
request, which signs the real browser out too), and a stolen cookie jar used from another
network meets a re-verification the thief cannot pass. Each browser is served by its own app
process (as by separate workers), with sessions and risk state on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.crypto.totp import totp_code_at
from bastion.risk.findings import Action
from bastion.web.session import DEVICE_COOKIE, SESSION_COOKIE
from support.risk_site import (
    HOME,
    HOME_2,
    PASSWORD,
    US,
    RiskSite,
    at,
    auth_of,
    backend_site,
    device_of,
    set_cookie,
    sign_in,
    signed_in,
)
from support.web_client import WebClient, csrf_of


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RiskSite]:
    with backend_site(tmp_path, str(request.param)) as site:
        yield site


def copy_jar(source: WebClient, target: WebClient) -> None:
    """Everything an infostealer takes: the session and the device cookie."""
    set_cookie(target, DEVICE_COOKIE, str(source.cookies[DEVICE_COOKIE]))
    set_cookie(target, SESSION_COOKIE, str(source.cookies[SESSION_COOKIE]))


def reverify(web: WebClient, data: dict[str, str]) -> int:
    page = web.get("/web/reverify")
    assert page.url.path == "/web/reverify", page.url
    return web.post("/web/reverify", {**data, "csrf_token": csrf_of(page.text)}).status_code


def test_stolen_session_cookie_is_revoked_on_its_first_request_from_another_browser(
    site: RiskSite,
) -> None:
    with site.browser() as owner, site.browser() as thief:
        token = sign_in(owner)
        assert signed_in(owner)
        at(thief, HOME)
        device_of(thief)
        set_cookie(thief, SESSION_COOKIE, token)
        assert not signed_in(thief)  # its first request
        assert not signed_in(owner)  # and the real browser is signed out too
        set_cookie(thief, SESSION_COOKIE, token)  # replaying again changes nothing
        assert not signed_in(thief)
        [event] = auth_of(owner).risk.events.list()
        assert event.action is Action.REVOKE


def test_stolen_session_cookie_is_revoked_denied_for_the_owners_browser_on_another_worker(
    site: RiskSite,
) -> None:
    # Twin: the owner's own browser (same cookies) reaching another worker process passes.
    with site.browser() as owner, site.browser() as same_browser_other_worker:
        sign_in(owner)
        assert signed_in(owner)
        at(same_browser_other_worker, HOME_2)
        copy_jar(owner, same_browser_other_worker)
        assert signed_in(same_browser_other_worker) and signed_in(owner)
        assert auth_of(owner).risk.events.count() == 0


def test_stolen_cookie_jar_used_from_abroad_must_reverify_and_cannot_guess_through(
    site: RiskSite,
) -> None:
    with site.browser() as owner, site.browser() as thief:
        sign_in(owner, ip=HOME)
        assert signed_in(owner)
        at(thief, US)
        copy_jar(owner, thief)
        assert thief.get("/web/security").url.path == "/web/reverify"
        assert reverify(thief, {"method": "password", "password": "hunter2 hunter2"}) == 401
        assert thief.get("/web/security").url.path == "/web/reverify"
        # The session is one: the owner must re-verify too, and does so from home...
        assert owner.get("/web").url.path == "/web/reverify"
        assert reverify(owner, {"method": "password", "password": PASSWORD}) == 200
        assert signed_in(owner)
        # ...which rotates the session: the thief's copy of the cookie is dead now.
        assert thief.get("/web").url.path == "/web/login"
        [event] = auth_of(owner).risk.events.list()
        assert event.country == "US" and event.action is Action.CHALLENGE


def test_stolen_cookie_jar_and_password_do_not_pass_a_user_with_a_second_factor(
    site: RiskSite,
) -> None:
    with site.browser() as owner, site.browser() as thief:
        sign_in(owner, ip=HOME)
        auth = auth_of(owner)
        uid = auth.login.find_user("alice").uid  # type: ignore[union-attr]
        secret = auth.totp.begin(uid, site.clock.now())
        auth.totp.confirm(uid, totp_code_at(secret, site.clock.now()), site.clock.now())
        assert signed_in(owner)
        at(thief, US)
        copy_jar(owner, thief)
        assert reverify(thief, {"method": "password", "password": PASSWORD}) == 400
        assert reverify(thief, {"method": "totp", "code": "000000"}) == 401
        assert thief.get("/web/security").url.path == "/web/reverify"


def test_reverification_pages_need_a_session(site: RiskSite) -> None:
    with site.browser() as web:
        at(web, HOME)
        assert web.get("/web/reverify").url.path == "/web/login"
        page = web.get("/web/login")
        token = csrf_of(page.text)
        refused = web.post("/web/reverify/passkey/options", {"csrf_token": token})
        assert refused.status_code == 401
