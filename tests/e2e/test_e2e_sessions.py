"""Sessions in real browsers: one browser signs out another from "My security"."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from conftest import NewContext, Site

USER = "employee"
OTHER_USER = "employee2"
CURRENT_ROW = '[data-testid="session-row"][data-current="true"]'


def _signed_in_page(new_context: NewContext, site: Site, login: str) -> Page:
    page = new_context().new_page()
    site.login(page, login)
    site.assert_logged_in(page)
    return page


def _current_sid(page: Page) -> str:
    page.goto("/web/security")
    sid = page.locator(CURRENT_ROW).get_attribute("data-sid")
    assert sid
    return sid


def test_session_revoked_from_another_context(new_context: NewContext, site: Site) -> None:
    first = _signed_in_page(new_context, site, USER)
    second = _signed_in_page(new_context, site, USER)
    second_sid = _current_sid(second)

    first.goto("/web/security")
    assert first.get_by_test_id("session-row").count() == 2
    row = first.locator(f'[data-testid="session-row"][data-sid="{second_sid}"]')
    assert row.get_attribute("data-current") is None
    site.submit(first, row.locator('form[action="/web/security/sessions/revoke"]'))
    assert first.get_by_test_id("flash").inner_text() == "The session was signed out."
    assert first.get_by_test_id("session-row").count() == 1

    # The revoked browser's next page is the login page.
    second.goto("/web/security")
    assert site.path(second) == "/web/login", second.url
    assert not site.is_logged_in(second)
    # Twin: the browser that revoked it is still signed in.
    site.assert_logged_in(first)
    first.goto("/web/security")
    assert site.path(first) == "/web/security"


def test_session_revoke_denied_for_another_users_session(
    new_context: NewContext, site: Site
) -> None:
    victim = _signed_in_page(new_context, site, USER)
    victim_sid = _current_sid(victim)
    attacker = _signed_in_page(new_context, site, OTHER_USER)
    attacker.goto("/web/security")
    form = attacker.locator(CURRENT_ROW).locator('form[action="/web/security/sessions/revoke"]')
    # Even knowing the sid, another user cannot end the session.
    form.locator("input[name=sid]").evaluate("(input, sid) => { input.value = sid; }", victim_sid)
    with attacker.expect_response(lambda r: r.request.method == "POST") as posted:
        site.submit(attacker, form)
    assert posted.value.status == 404
    assert site.error_text(attacker) == "There is no such session of yours."
    site.assert_logged_in(attacker)
    site.assert_logged_in(victim)
    assert _current_sid(victim) == victim_sid
