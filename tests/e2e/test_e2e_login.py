"""Signing in with a password in a real browser, and the wrong password refused."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from conftest import Site

USER = "employee"
USER_NAME = "Eve Miller"
WRONG = "not the password of anyone"
LOGOUT_FORM = 'form[action="/web/session/logout"]'
SESSION_COOKIE = "session_id"


def test_login_with_password_shows_home(page: Page, context: BrowserContext, site: Site) -> None:
    site.login(page, USER)
    assert site.path(page) == "/web", page.url
    assert page.get_by_test_id("greeting").inner_text() == f"Hello, {USER_NAME}"
    site.assert_logged_in(page)
    cookies = context.cookies()
    assert SESSION_COOKIE in {cookie["name"] for cookie in cookies}
    for cookie in cookies:
        # Scripts never read our cookies (XSS cannot steal a session); no cross-site POSTs.
        assert cookie["httpOnly"], cookie["name"]
        assert cookie["sameSite"] == "Lax", cookie["name"]


def test_login_denied_with_wrong_password(page: Page, context: BrowserContext, site: Site) -> None:
    site.login(page, USER, WRONG)
    assert site.path(page) == "/web/login"
    message = site.error_text(page)
    assert message
    assert page.locator("input[name=login]").input_value() == USER
    assert page.locator("input[name=password]").input_value() == ""
    assert SESSION_COOKIE not in {cookie["name"] for cookie in context.cookies()}
    site.assert_logged_out(page)
    # The answer for an unknown login is the same: it does not tell which accounts exist.
    site.login(page, "nobody-by-this-login", WRONG)
    assert site.error_text(page) == message


def test_login_session_ends_with_the_browser(
    context: BrowserContext, page: Page, site: Site
) -> None:
    site.login(page, USER)
    (session,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert session["expires"] == -1  # a session cookie: gone when the browser closes


def test_login_remembered_outlives_the_browser(
    context: BrowserContext, page: Page, site: Site
) -> None:
    # Twin: "Keep me signed in on this device" makes a cookie with a lifetime.
    site.login(page, USER, remember=True)
    site.assert_logged_in(page)
    (session,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert session["expires"] > time.time() + 3600


def test_logout_ends_the_session(page: Page, site: Site) -> None:
    site.login(page, USER)
    site.assert_logged_in(page)
    site.logout(page)
    assert page.get_by_test_id("flash").inner_text() == "You are signed out."
    site.assert_logged_out(page)


def test_logout_denied_with_forged_csrf_token(page: Page, site: Site) -> None:
    # Twin: a sign-out form whose token was tampered with is refused, and the session stays.
    site.login(page, USER)
    page.goto("/web")
    page.locator(f"{LOGOUT_FORM} input[name=csrf_token]").evaluate(
        "input => { input.value = 'forged-' + input.value; }"
    )
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        site.submit(page, LOGOUT_FORM)
    assert posted.value.status == 403
    site.assert_logged_in(page)
