"""Passkeys in a real browser, with Chromium's virtual authenticator: register one on
"My security", sign in with password then passkey, remove it; a forged assertion is refused."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Route, expect

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from conftest import Authenticator, Site

USER = "employee"
NAME = "E2E laptop"
STATUS = "passkey-status"


def _wait_for_url(page: Page, pattern: str) -> None:
    """Wait for the passkey script to navigate; on failure say what it showed instead."""
    try:
        page.wait_for_url(re.compile(pattern))
    except PlaywrightError as exc:
        status = page.get_by_test_id(STATUS).inner_text()
        raise AssertionError(f"still at {page.url}; passkey status: {status!r}") from exc


def _register(context: BrowserContext, page: Page, site: Site) -> Authenticator:
    authenticator = site.add_authenticator(context, page)
    page.goto("/web/security")
    expect(page.get_by_test_id("passkey-row")).to_have_count(0)
    page.locator("#passkey-name").fill(NAME)
    page.locator("#passkey-add").click()
    _wait_for_url(page, r"/web/security\?m=passkey_added$")
    expect(page.get_by_test_id("passkey-row").filter(has_text=NAME)).to_have_count(1)
    assert len(authenticator.credentials()) == 1
    return authenticator


def _to_mfa(page: Page, site: Site) -> None:
    site.logout(page)
    site.login(page, USER)
    assert site.path(page) == "/web/login/mfa", page.url
    assert not site.is_logged_in(page)
    assert page.get_by_test_id("mfa-totp-form").count() == 0  # the passkey is the only factor


def test_passkey_registration_login_and_removal(
    context: BrowserContext, page: Page, site: Site
) -> None:
    site.login(page, USER)
    _register(context, page, site)
    _to_mfa(page, site)

    page.locator("#passkey-login").click()
    _wait_for_url(page, r"/web$")
    site.assert_logged_in(page)

    page.goto("/web/security")
    row = page.get_by_test_id("passkey-row").filter(has_text=NAME)
    site.submit(page, row.locator('form[action="/web/security/passkeys/remove"]'))
    if site.reauth_if_asked(page):
        site.submit(page, row.locator('form[action="/web/security/passkeys/remove"]'))
    assert page.get_by_test_id("flash").inner_text() == "Passkey removed."
    expect(page.get_by_test_id("passkey-row")).to_have_count(0)

    # Without a second factor left, the password alone signs in again.
    site.logout(page)
    site.login(page, USER)
    assert site.path(page) == "/web", page.url
    site.assert_logged_in(page)


def test_passkey_login_denied_with_forged_signature(
    context: BrowserContext, page: Page, site: Site
) -> None:
    site.login(page, USER)
    _register(context, page, site)
    _to_mfa(page, site)

    def forge(route: Route) -> None:
        body = route.request.post_data_json
        signature = body["response"]["signature"]
        middle = len(signature) // 2
        flipped = "A" if signature[middle] != "A" else "B"
        body["response"]["signature"] = signature[:middle] + flipped + signature[middle + 1 :]
        route.continue_(post_data=json.dumps(body))

    page.route("**/web/login/mfa/passkey", forge)
    with page.expect_response("**/web/login/mfa/passkey") as answered:
        page.locator("#passkey-login").click()
    assert answered.value.status == 401
    expect(page.get_by_test_id(STATUS)).to_have_attribute("data-state", "error")
    assert site.path(page) == "/web/login/mfa"
    assert not site.is_logged_in(page)

    # The same passkey, unforged, still works: only the forgery was refused.
    page.unroute("**/web/login/mfa/passkey", forge)
    page.locator("#passkey-login").click()
    _wait_for_url(page, r"/web$")
    site.assert_logged_in(page)
