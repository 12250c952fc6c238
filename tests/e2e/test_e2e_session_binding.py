"""A session cookie copied into another browser is revoked on its first use there, and the real
browser is signed out with it; the real browser's own tabs keep working until then."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

    from conftest import NewContext, Site

USER = "employee"
SESSION_COOKIE = "session_id"


def _session_cookie(context: BrowserContext) -> dict[str, object]:
    (cookie,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    return dict(cookie)


def test_session_cookie_copied_to_another_browser_is_revoked_on_first_use(
    new_context: NewContext, site: Site
) -> None:
    owner = new_context()
    page = owner.new_page()
    site.login(page, USER)
    site.assert_logged_in(page)
    stolen = _session_cookie(owner)

    thief = new_context()  # another browser: its own device cookie, or none yet
    thief.add_cookies([{"name": SESSION_COOKIE, "value": str(stolen["value"]), "url": site.url}])
    loot = thief.new_page()
    loot.goto("/web/security")
    assert site.path(loot) == "/web/login", loot.url
    assert not site.is_logged_in(loot)
    assert SESSION_COOKIE not in {c["name"] for c in thief.cookies()}

    # The session itself is dead: the real browser is signed out too.
    site.assert_logged_out(page)


def test_session_cookie_copied_to_another_browser_is_revoked_denied_for_another_tab(
    new_context: NewContext, site: Site
) -> None:
    # Twin: another tab of the same browser shares its cookies and device: it stays signed in.
    owner = new_context()
    first = owner.new_page()
    site.login(first, USER)
    second = owner.new_page()
    second.goto("/web/security")
    assert site.path(second) == "/web/security"
    site.assert_logged_in(first)
