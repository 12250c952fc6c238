"""The login page issues a browser-signal nonce bound to the visitor's device cookie, and loads
our signal script under the page's CSP nonce; the parser accepts a report only from that device."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.bootstrap.auth import AuthKeys
from bastion.bootstrap.tenants import create_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.settings import Settings
from bastion.web.app import create_app
from bastion.web.device_cookie import DEVICE_PURPOSE, DeviceCookies
from bastion.web.risk_signals import NONCE_FIELD, SIGNALS_PURPOSE, read_browser_signals
from bastion.web.session import DEVICE_COOKIE
from support.web_client import WebClient

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REPORT = json.dumps({"webdriver": False, "pointer": 5, "keys": 12, "fill_ms": 4000})


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "var")
    tenant = create_tenant(settings, "acme", modules=["base"], clock=FixedClock(NOW))
    add_user(tenant, "alice", "correct horse battery staple 42", name="Alice")
    tenant.dispose()
    yield settings


def visit(settings: Settings) -> tuple[str, str, str]:
    """A new browser opens the login page: (page html, its signal nonce, its device id)."""
    with WebClient(create_app(settings, clock=FixedClock(NOW))) as web:
        html = web.get("/web/login").text
        cookie = web.cookies[DEVICE_COOKIE]
    match = re.search(rf'name="{NONCE_FIELD}" value="([^"]*)"', html)
    assert match is not None
    device_id = DeviceCookies(AuthKeys.load(settings).signer(DEVICE_PURPOSE)).read(cookie)
    assert device_id is not None
    return html, match.group(1), device_id


def test_login_page_nonce_verifies_for_the_visitors_device(settings: Settings) -> None:
    _, nonce, device_id = visit(settings)
    signer = AuthKeys.load(settings).signer(SIGNALS_PURPOSE)
    later = NOW + dt.timedelta(seconds=8)
    signals = read_browser_signals(signer, REPORT, nonce, device_id, later)
    assert signals.present and signals.key_events == 12 and signals.fill_ms == 4000


def test_login_page_nonce_does_not_verify_for_another_visitors_device(settings: Settings) -> None:
    # Denied twin: two browsers, two devices; one's nonce is worthless with the other's cookie.
    _, nonce, _ = visit(settings)
    _, _, other_device = visit(settings)
    signer = AuthKeys.load(settings).signer(SIGNALS_PURPOSE)
    later = NOW + dt.timedelta(seconds=8)
    assert not read_browser_signals(signer, REPORT, nonce, other_device, later).present


def test_login_page_loads_the_signal_script_with_the_csp_nonce(settings: Settings) -> None:
    html, _, _ = visit(settings)
    (tag,) = re.findall(r"<script[^>]*signals\.js[^>]*>", html)
    assert re.search(r'nonce="[A-Za-z0-9_-]{16,}"', tag)
    assert 'name="bastion_signals" value=""' in html
    assert "onsubmit" not in html and "onclick" not in html  # no inline handlers


def test_signal_script_is_served_as_javascript(settings: Settings) -> None:
    with WebClient(create_app(settings, clock=FixedClock(NOW))) as web:
        response = web.get("/web/static/signals.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "bastion_signals" in response.text
