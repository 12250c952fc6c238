"""TOTP in a real browser: enrol on "My security", then sign in with a code; wrong and
replayed codes are refused."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from conftest import Site

USER = "employee"
ENROL_FORM = '[data-testid="totp-form"]'
MFA_FORM = '[data-testid="mfa-totp-form"]'


def _enrol(page: Page, site: Site) -> tuple[str, str]:
    """Enrol TOTP for the signed-in user; returns (secret, the code that confirmed it)."""
    page.goto("/web/security")
    assert page.get_by_test_id("totp-status").inner_text() == "No authenticator app is set up."
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("totp-enrol").click()
    assert site.path(page) == "/web/security/totp"
    # Denied twin of the confirmation below: a wrong code does not turn TOTP on.
    page.locator(f"{ENROL_FORM} input[name=code]").fill(_wrong_code(site, _secret(page)))
    site.submit(page, ENROL_FORM)
    assert site.error_text(page)
    page.goto("/web/security")
    assert page.get_by_test_id("totp-status").inner_text() == "No authenticator app is set up."

    page.goto("/web/security/totp")
    secret = _secret(page)  # each visit draws a new pending secret: read the one shown
    code = site.totp_code(secret)
    page.locator(f"{ENROL_FORM} input[name=code]").fill(code)
    site.submit(page, ENROL_FORM)
    assert page.get_by_test_id("error").count() == 0, site.error_text(page)
    assert page.get_by_test_id("totp-remove").is_visible()
    assert page.get_by_test_id("recovery-codes").locator("li").count() == 10
    return secret, code


def _secret(page: Page) -> str:
    text = page.get_by_test_id("totp-secret").inner_text()
    secret = re.sub(r"\s+", "", text).upper()  # may be shown in groups for reading
    assert re.fullmatch(r"[A-Z2-7]{32,}=*", secret), text  # base32 of 160 bits or more
    return secret


def _wrong_code(site: Site, secret: str) -> str:
    """A code valid at no step near now."""
    near = {site.totp_code(secret, steps_ahead=step) for step in range(-3, 4)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


def test_totp_enrolment_then_login_asks_for_code(page: Page, site: Site) -> None:
    site.login(page, USER)
    site.assert_logged_in(page)
    secret, used = _enrol(page, site)
    site.assert_logged_in(page)  # enrolling keeps this session (others are signed out)
    site.logout(page)

    site.login(page, USER)
    assert site.path(page) == "/web/login/mfa", page.url
    assert page.locator(f"{MFA_FORM} input[name=code]").is_visible()
    assert not site.is_logged_in(page)

    # Denied twins: a wrong code, and the code that confirmed the enrolment (a replay).
    for refused in (_wrong_code(site, secret), used):
        page.locator(f"{MFA_FORM} input[name=code]").fill(refused)
        site.submit(page, MFA_FORM)
        assert site.path(page) == "/web/login/mfa", page.url
        assert site.error_text(page)
        assert not site.is_logged_in(page)

    # The code of the next time step: inside the accepted window and never used before.
    page.locator(f"{MFA_FORM} input[name=code]").fill(site.totp_code(secret, steps_ahead=1))
    site.submit(page, MFA_FORM)
    assert site.path(page) == "/web", page.url
    assert site.is_logged_in(page)
    site.assert_logged_in(page)


def test_totp_login_denied_before_code(page: Page, site: Site) -> None:
    # Twin: after the password alone, the pages behind the login stay closed.
    site.login(page, USER)
    _enrol(page, site)
    site.logout(page)
    site.login(page, USER)
    assert site.path(page) == "/web/login/mfa", page.url
    for path in ("/web", "/web/security", "/web/security/totp"):
        page.goto(path)
        assert site.path(page).startswith("/web/login"), page.url
        assert not site.is_logged_in(page)
