"""The sign-in page in a real browser: Odoo's form fields, a CSRF token, no CSP violation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from conftest import NewContext

LOGIN_FORM = "form:has(input[name=password])"


def test_login_page_renders_the_form(page: Page) -> None:
    response = page.goto("/web/login")
    assert response is not None
    assert response.status == 200
    form = page.locator(LOGIN_FORM)
    assert form.count() == 1
    assert (form.get_attribute("method") or "").lower() == "post"
    assert form.locator("input[name=login]").is_visible()
    assert form.locator("input[name=password]").get_attribute("type") == "password"
    token = form.locator("input[name=csrf_token]")
    assert token.get_attribute("type") == "hidden"
    assert len(token.get_attribute("value") or "") >= 16


def test_login_page_token_differs_per_visitor(page: Page, new_context: NewContext) -> None:
    # Denied twin: a token copied from another visitor is not this visitor's token.
    page.goto("/web/login")
    mine = page.locator(f"{LOGIN_FORM} input[name=csrf_token]").get_attribute("value")
    other = new_context().new_page()
    other.goto("/web/login")
    theirs = other.locator(f"{LOGIN_FORM} input[name=csrf_token]").get_attribute("value")
    assert mine
    assert theirs
    assert mine != theirs
