"""The login page's signal script in a real Chromium driven by Playwright: the report it posts
says webdriver (Playwright drives the browser through the automation protocol), counts the
pointer and key events a typing visitor made, and verifies server-side for this device only."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest

from bastion.bootstrap.auth import AuthKeys
from bastion.risk.signals import BrowserSignals
from bastion.settings import Settings
from bastion.web.device_cookie import DEVICE_PURPOSE, DeviceCookies
from bastion.web.risk_signals import NONCE_FIELD, REPORT_FIELD, SIGNALS_PURPOSE
from bastion.web.risk_signals import read_browser_signals as read_signals
from bastion.web.session import DEVICE_COOKIE
from support.chromium import CHROMIUM_ARGS
from support.live_server import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

    from conftest import Site

USER = "employee"


@pytest.fixture(scope="module")
def chromium_args() -> list[str]:
    """This module watches the report of a browser that says it is automated."""
    return CHROMIUM_ARGS


@pytest.fixture(scope="module")
def user_agent() -> None:
    return None


LOGIN_FORM = "form:has(input[name=password])"


class Posted:
    """Captures the login form as the browser posts it (the request goes on unchanged)."""

    def __init__(self, page: Page) -> None:
        self.forms: list[dict[str, str]] = []
        page.route("**/web/login*", self._handle)

    def _handle(self, route: Route) -> None:
        request = route.request
        if request.method == "POST":
            fields = parse_qs(request.post_data or "", keep_blank_values=True)
            self.forms.append({key: values[0] for key, values in fields.items()})
        route.continue_()


def parse(tmp_path: Path, context: BrowserContext, form: dict[str, str]) -> BrowserSignals:
    """The server's reading of the posted report, with the live server's keys."""
    keys = AuthKeys.load(Settings(data_dir=tmp_path / "var"))
    (cookie,) = [c["value"] for c in context.cookies() if c["name"] == DEVICE_COOKIE]
    device_id = DeviceCookies(keys.signer(DEVICE_PURPOSE)).read(cookie)
    assert device_id is not None
    now = dt.datetime.now(dt.UTC)
    signer = keys.signer(SIGNALS_PURPOSE)
    return read_signals(signer, form[REPORT_FIELD], form[NONCE_FIELD], device_id, now)


def test_typing_visitor_report_counts_input_and_says_webdriver(
    page: Page, context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    posted = Posted(page)
    page.goto("/web/login")
    form = page.locator(LOGIN_FORM)
    assert form.locator(f"input[name={REPORT_FIELD}]").input_value() == ""  # filled on submit
    form.locator("input[name=login]").click()
    page.keyboard.type(USER)
    form.locator("input[name=password]").click()
    page.keyboard.type(PASSWORD)
    site.submit(page, form)
    # navigator.webdriver set and a HeadlessChrome user agent: the bot check refuses the
    # sign-in (the throttle's words, which tell a bot nothing) before any password check.
    assert site.path(page) == "/web/login", page.url
    assert not site.is_logged_in(page)
    assert page.get_by_test_id("error").count() == 1

    (sent,) = posted.forms
    report = json.loads(sent[REPORT_FIELD])
    assert report["webdriver"] is True
    assert report["keys"] >= len(USER) + len(PASSWORD)
    assert report["pointer"] >= 3  # two clicks into fields and one on the button
    assert report["fill_ms"] > 0
    assert report["stable"]

    signals = parse(tmp_path, context, sent)
    assert signals.present and signals.webdriver
    assert signals.key_events == report["keys"] and signals.pointer_events == report["pointer"]
    assert signals.fill_ms is not None and signals.fill_ms > 0
    assert not signals.ua_mismatch
    assert "headless-ua" in signals.headless_hints  # Playwright's headless Chromium says so
    assert len(signals.fingerprint) == 32


def test_scripted_fill_report_shows_no_human_input(
    page: Page, context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    # Twin of the test above: values set by script and the form submitted by script, as a
    # bot does, leave no pointer or key event behind.
    posted = Posted(page)
    page.goto("/web/login")
    form = page.locator(LOGIN_FORM)
    form.locator("input[name=login]").fill(USER)
    form.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        form.evaluate("f => f.requestSubmit()")
    assert site.path(page) != "/web", page.url  # never signed in straight away

    (sent,) = posted.forms
    signals = parse(tmp_path, context, sent)
    assert signals.present and signals.webdriver
    assert (signals.pointer_events, signals.key_events) == (0, 0)


def test_report_is_worthless_with_another_browsers_device(
    page: Page, context: BrowserContext, site: Site, tmp_path: Path, new_context: object
) -> None:
    # A report and nonce replayed from another device cookie do not verify.
    posted = Posted(page)
    site.login(page, USER)
    (sent,) = posted.forms
    other = new_context()  # type: ignore[operator]
    other.new_page().goto("/web/login")
    keys = AuthKeys.load(Settings(data_dir=tmp_path / "var"))
    (cookie,) = [c["value"] for c in other.cookies() if c["name"] == DEVICE_COOKIE]
    other_id = DeviceCookies(keys.signer(DEVICE_PURPOSE)).read(cookie)
    assert other_id is not None
    signer = keys.signer(SIGNALS_PURPOSE)
    now = dt.datetime.now(dt.UTC)
    assert not read_signals(signer, sent[REPORT_FIELD], sent[NONCE_FIELD], other_id, now).present
    assert parse(tmp_path, context, sent).present
